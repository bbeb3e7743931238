"""A drop-down of every model in the catalogue (trained or imported), newest first, the active one marked."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QWidget

from fanqc_gui.core.models.model_store import ModelInfo
from fanqc_gui.workers.model_catalogue import ModelCatalogue


def describe(info: ModelInfo, active_id: str | None) -> str:
    parts = [info.name]
    if info.id == active_id:
        parts.append("● active")
    if info.metadata.get("source") == "imported":
        parts.append("imported")
    if info.created:
        parts.append(info.created[:16].replace("T", " "))
    return " · ".join(parts)


class ModelChooser(QComboBox):
    model_chosen = Signal(object)  # ModelInfo (or None when the catalogue is empty)

    def __init__(self, catalogue: ModelCatalogue, parent: QWidget | None = None):
        super().__init__(parent)
        self._catalogue = catalogue
        self._infos: list[ModelInfo] = []
        # Narrow enough for a 1280 px window; the whole text is in the tooltip and the open list.
        self.setMinimumContentsLength(16)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.currentIndexChanged.connect(self._on_current_index_changed)

    def refresh(self, prefer: str | None = None) -> bool:
        """Re-read the catalogue; keep the current model (or choose `prefer`, else the active, else the newest).
        True (and model_chosen emitted) when another model is chosen now; a changed threshold of the same
        model only updates its ModelInfo."""
        before = self.current_info()
        infos = self._catalogue.models()
        active = self._catalogue.active_id()
        wanted = prefer or (before.id if before else None) or active or (infos[0].id if infos else None)
        self.blockSignals(True)
        self.clear()
        self._infos = infos
        for info in infos:
            self.addItem(describe(info, active), info.id)
            self.setItemData(self.count() - 1, f"{describe(info, active)}\n{info.folder}",
                             Qt.ItemDataRole.ToolTipRole)
        index = self.findData(wanted)
        self.setCurrentIndex(index if index >= 0 else (0 if infos else -1))
        self.blockSignals(False)
        self._update_tooltip()
        after = self.current_info()
        changed = (before.id if before else None) != (after.id if after else None)
        if changed:
            self.model_chosen.emit(after)
        return changed

    def current_info(self) -> ModelInfo | None:
        i = self.currentIndex()
        return self._infos[i] if 0 <= i < len(self._infos) else None

    def choose(self, model_id: str) -> None:
        index = self.findData(model_id)
        if index < 0:
            raise KeyError(model_id)
        self.setCurrentIndex(index)

    def replace_info(self, info: ModelInfo) -> None:
        """The chosen model's metadata changed (a saved threshold): keep the new ModelInfo."""
        for i, old in enumerate(self._infos):
            if old.id == info.id:
                self._infos[i] = info

    def _update_tooltip(self) -> None:
        self.setToolTip(self.currentData(Qt.ItemDataRole.ToolTipRole) or "No model in the store yet")

    @Slot(int)
    def _on_current_index_changed(self, _index: int) -> None:
        self._update_tooltip()
        self.model_chosen.emit(self.current_info())
