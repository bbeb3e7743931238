"""Render resources/fanqc.svg into the hicolor icon theme layout under resources/icons/.

    resources/icons/hicolor/<N>x<N>/apps/fanqc.png   N = 16 24 32 48 64 128 256 512
    resources/icons/hicolor/scalable/apps/fanqc.svg

Run from anywhere: `QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py` (the PNGs are
committed; run this again after changing the SVG).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "fanqc.svg"
OUT = ROOT / "resources" / "icons" / "hicolor"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"render_icons: cannot read {SVG}", file=sys.stderr)
        return 1
    for size in SIZES:
        target = OUT / f"{size}x{size}" / "apps" / "fanqc.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render(renderer, size).save(str(target), "PNG"):
            print(f"render_icons: cannot write {target}", file=sys.stderr)
            return 1
        print(target.relative_to(ROOT))
    scalable = OUT / "scalable" / "apps" / "fanqc.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SVG, scalable)
    print(scalable.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
