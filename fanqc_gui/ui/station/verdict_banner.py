"""The GO / NG banner, readable from two metres: huge letters on green or red, P(NG) and threshold under
them, a note when the source ended (the last verdict stays in view), then the model's name, frames per
second and inference latency."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from fanqc_gui.core.station.pipeline import ModelSummary, Verdict

STYLES = {
    "GO": ("#1e9e4a", "#ffffff"),
    "NG": ("#d32f2f", "#ffffff"),
    "idle": ("#3a3f44", "#e6e6e6"),
    "warn": ("#b26a00", "#ffffff"),
}


class VerdictBanner(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("verdictBanner")
        self.setMinimumHeight(260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.word = QLabel("-")
        self.word.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel("")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note = QLabel("")
        self.note.setObjectName("bannerNote")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.note.hide()
        self.info = QLabel("")
        self.info.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.info.setWordWrap(True)
        # the text fits the banner, not the other way round
        for label in (self.word, self.detail, self.note, self.info):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(2)
        layout.addWidget(self.word, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.note)
        layout.addWidget(self.info)
        self._model: ModelSummary | None = None
        self._fps = 0.0
        self._latency: float | None = None
        self.state = "idle"
        self._painted = ""
        self._apply_fonts()
        self.show_message("READY", "Choose a source and press Start")

    # ---- what it shows -------------------------------------------------------------------------------
    def show_verdict(self, v: Verdict, note: str = "") -> None:
        """A verdict; `note` says what happened since (e.g. "ENDED: end of the recording") under it."""
        self.state = v.verdict
        self.word.setText(v.verdict)
        part = f"part {v.part_id}" + (f" (lot {v.lot_id})" if v.lot_id else "") + "   " if v.part_id else ""
        self.detail.setText(f"{part}P(NG) {v.p_ng:.3f}   threshold {v.threshold:.3f}")
        self._set_note(note)
        self._apply_fonts()
        self._paint()

    def show_message(self, word: str, detail: str = "", warn: bool = False) -> None:
        """A state instead of a verdict: READY, PAUSED, NO CAMERA, RECONNECTING..."""
        self.state = "warn" if warn else "idle"
        self.word.setText(word)
        self.detail.setText(detail)
        self._set_note("")
        self._apply_fonts()
        self._paint()

    def note_text(self) -> str:
        return self.note.text()

    def _set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_model(self, model: ModelSummary | None) -> None:
        self._model = model
        self._update_info()

    def set_rates(self, fps: float, latency_ms: float | None) -> None:
        self._fps, self._latency = fps, latency_ms
        self._update_info()

    def _update_info(self) -> None:
        parts = []
        if self._model is not None:
            backend = f" ({self._model.backend})" if self._model.backend else ""  # known once it runs
            parts.append(f"model {self._model.name}{backend}")
        parts.append(f"{self._fps:.0f} frames/s")
        if self._latency is not None:
            parts.append(f"inference {self._latency:.2f} ms")
        self.info.setText("   |   ".join(parts))

    def _paint(self) -> None:
        if self.state == self._painted:
            return  # style sheets are costly to apply: only when the colour changes
        self._painted = self.state
        bg, fg = STYLES.get(self.state, STYLES["idle"])
        self.setStyleSheet(f"#verdictBanner {{ background: {bg}; border-radius: 10px; }}"
                           f"#verdictBanner QLabel {{ color: {fg}; background: transparent; }}")

    # ---- size: the word fills the banner -------------------------------------------------------------
    def _fit(self, label: QLabel, px: int, bold: bool = True) -> None:
        """label's font at px pixels, smaller where its text would not fit the banner's width."""
        font = QFont(self.font())
        font.setBold(bold)
        font.setPixelSize(px)
        text_w = QFontMetrics(font).horizontalAdvance(label.text() or "-")
        room = max(50, self.width() - 40)
        if text_w > room:
            font.setPixelSize(max(12, int(px * room / text_w)))
        if font != label.font():
            label.setFont(font)

    def _apply_fonts(self) -> None:
        """The word fills half the banner's height (narrower for long words like RECONNECTING)."""
        h = max(self.height(), self.minimumHeight())
        self._fit(self.word, max(24, int(h * 0.5)))
        self._fit(self.detail, max(16, int(h * 0.09)))
        self._fit(self.note, max(14, int(h * 0.07)))
        small = QFont(self.font())
        small.setPixelSize(max(13, int(h * 0.055)))
        self.info.setFont(small)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._apply_fonts()
