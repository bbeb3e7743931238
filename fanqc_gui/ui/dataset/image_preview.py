"""The preview: the selected image large, with name, size, resolution and class; wheel zoom, arrow keys."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

from fanqc_gui.core.image_files import readable_name
from fanqc_gui.ui.dataset.thumbnail_list_model import human_size
from fanqc_gui.workers.image_loader import ImageLoader, LoadedImage

_ZOOM_STEP = 1.25
_MAX_ZOOM = 32.0
# The keys ZoomCanvas.keyPressEvent handles, for Help > Keyboard shortcuts: keep them in step with it.
PREVIEW_KEYS = (
    (("Left", "Up", "PgUp"), "Preview: the previous image"),
    (("Right", "Down", "PgDown", "Space"), "Preview: the next image"),
    (("+", "=", "Mouse wheel"), "Preview: zoom in (the wheel zooms around the cursor; drag to pan)"),
    (("-",), "Preview: zoom out"),
    (("0", "Double-click"), "Preview: fit the image again"),
)


class ZoomCanvas(QWidget):
    """Draws a QImage fitted to the widget; the wheel zooms around the cursor, dragging pans."""

    step_requested = Signal(int)  # -1 previous, +1 next

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 200)
        self._image: QImage | None = None
        self._message = ""
        self.zoom = 1.0  # relative to "fit to the widget"
        self._offset = QPointF(0, 0)  # pan, in widget pixels
        self._drag_from: QPointF | None = None

    def set_image(self, image: QImage | None, message: str = "") -> None:
        keep_view = image is not None and self._image is not None and image.size() == self._image.size()
        self._image, self._message = image, message
        if not keep_view:  # stepping through same-size images keeps the zoomed-in spot
            self.reset_view()
        self.update()

    def reset_view(self) -> None:
        self.zoom, self._offset = 1.0, QPointF(0, 0)
        self.update()

    def image_rect(self) -> QRectF:
        if self._image is None or self._image.isNull():
            return QRectF()
        w, h = self._image.width(), self._image.height()
        fit = min(self.width() / w, self.height() / h)
        scale = fit * self.zoom
        r = QRectF(0, 0, w * scale, h * scale)
        r.moveCenter(QPointF(self.width() / 2, self.height() / 2) + self._offset)
        return r

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#1e1f22"))
        if self._image is not None and not self._image.isNull():
            r = self.image_rect()
            # smooth when fitted; real pixels once the operator zooms in to look closely
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom == 1.0)
            p.drawImage(r, self._image)
        elif self._message:
            p.setPen(QColor("#c9ccd1"))
            p.drawText(self.rect().adjusted(16, 16, -16, -16),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)

    def wheelEvent(self, event) -> None:
        if self._image is None:
            return
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        self.zoom_by(_ZOOM_STEP ** steps, event.position())
        event.accept()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under anchor (default: the centre) in place."""
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        new_zoom = min(_MAX_ZOOM, max(1.0, self.zoom * factor))
        factor = new_zoom / self.zoom
        centre = QPointF(self.width() / 2, self.height() / 2)
        image_centre = centre + self._offset
        self._offset = anchor - centre - (anchor - image_centre) * factor
        self.zoom = new_zoom
        if new_zoom == 1.0:
            self._offset = QPointF(0, 0)
        self.update()

    def mousePressEvent(self, event) -> None:
        self.setFocus()
        if event.button() == Qt.MouseButton.LeftButton and self.zoom > 1.0:
            self._drag_from = event.position()

    def mouseMoveEvent(self, event) -> None:
        if self._drag_from is not None:
            self._offset += event.position() - self._drag_from
            self._drag_from = event.position()
            self.update()

    def mouseReleaseEvent(self, event) -> None:
        self._drag_from = None

    def mouseDoubleClickEvent(self, event) -> None:
        self.reset_view()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.step_requested.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown, Qt.Key.Key_Space):
            self.step_requested.emit(1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(_ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / _ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.reset_view()
        else:
            super().keyPressEvent(event)


class ImagePreview(QFrame):
    """Canvas plus the facts an operator needs: name, class, file size, resolution, date."""

    step_requested = Signal(int)

    def __init__(self, loader: ImageLoader, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("imagePreview")
        self._loader = loader
        self._path = ""
        self.canvas = ZoomCanvas(self)
        self.canvas.step_requested.connect(self.step_requested)
        self._fields = {k: QLabel("—", textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
                        for k in ("Name", "Class", "Size", "Resolution", "Modified")}
        self._fields["Name"].setWordWrap(True)
        title = QLabel("Preview", objectName="previewTitle")
        form = QFormLayout()
        form.setContentsMargins(10, 6, 10, 2)
        form.setHorizontalSpacing(12)
        for k, label in self._fields.items():
            form.addRow(QLabel(k, objectName="fieldName"), label)
        nb = "\u00a0"  # each "key: what" stays on one line when the hint wraps
        hint = QLabel(" · ".join(t.replace(" ", nb) for t in ("Wheel: zoom", "drag: pan", "double-click: fit",
                                                              "←/→: previous/next")),
                      objectName="hint", wordWrap=True)
        hint.setContentsMargins(10, 0, 10, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(form)
        layout.addWidget(hint)
        loader.image_loaded.connect(self._on_loader_image_loaded)
        loader.image_failed.connect(self._on_loader_image_failed)
        self.show_image("", "")

    @property
    def path(self) -> str:
        return self._path

    def field(self, name: str) -> str:
        return self._fields[name].text()

    def show_image(self, path: str, class_name: str) -> None:
        """Show path (loaded in the background); "" clears the preview."""
        self._path = path
        if not path:
            for label in self._fields.values():
                label.setText("—")
            self.canvas.set_image(None, "Select an image to see it here")
            return
        p = Path(path)
        self._fields["Name"].setText(readable_name(p.name))
        self._fields["Class"].setText(class_name)
        try:
            st = p.stat()
            self._fields["Size"].setText(human_size(st.st_size))
            self._fields["Modified"].setText(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime)))
        except OSError:
            self._fields["Size"].setText("file not found")
            self._fields["Modified"].setText("—")
        self._fields["Resolution"].setText("…")
        self._loader.load(path)

    @Slot(object)
    def _on_loader_image_loaded(self, loaded: LoadedImage) -> None:
        if loaded.path != self._path:
            return
        self._fields["Resolution"].setText(f"{loaded.width} × {loaded.height} px")
        self.canvas.set_image(loaded.image)

    @Slot(object, str)
    def _on_loader_image_failed(self, path: str, reason: str) -> None:
        if path != self._path:
            return
        self._fields["Resolution"].setText("—")
        self.canvas.set_image(None, f"⚠ Cannot show this image:\n{reason}")
