"""Which mode fits a workspace: a workspace with good parts and (almost) no NG images cannot train a GO/NG
classifier, but it can train an anomaly model. Cheap (folder listings, no decoding): the Training page and
`fanqc train` say it where they would otherwise only refuse."""
from __future__ import annotations

from fanqc_gui.core.dataset.scan import MIN_IMAGES_PER_CLASS, list_images
from fanqc_gui.core.dataset.workspace import Workspace
from fanqc_gui.core.models.anomaly.options import MIN_GO_IMAGES


def anomaly_mode_hint(ws: Workspace) -> str | None:
    """The sentence that suggests anomaly mode, or None when the classifier can train (or neither can)."""
    try:
        n_go = len(list_images(ws.go_dir)) if ws.go_dir.is_dir() else 0
        n_ng = len(list_images(ws.ng_dir)) if ws.ng_dir.is_dir() else 0
    except OSError:
        return None
    if n_ng >= MIN_IMAGES_PER_CLASS or n_go < MIN_GO_IMAGES:
        return None
    return (f"with {n_go} GO and {n_ng} NG images, train 'Find anomalies (GO only)' instead: it learns good parts "
            f"from the GO folder alone and flags whatever differs (`fanqc train {ws.root} --mode anomaly`)")
