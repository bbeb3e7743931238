"""A generated corpus of bad input: every kind of file, folder and model a careless copy, another program or an
attacker could leave where FanQC looks. Each kind is written by code (nothing is checked in), named by a test
id, and says what a user must see: the file is used, or it is skipped with a reason containing `reason`.

Three families:
- FILE_KINDS: one entry each in a workspace's GO/NG folders (and a copy of the text-renderable ones in a folder
  that `predict` and `inspect --source` read);
- WORKSPACE_KINDS: a whole workspace that cannot be trained on (no NG, one class, a file where a folder
  belongs...); each must end in one clear message;
- MODEL_KINDS: a damaged model folder in the store.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---- writers of odd bytes ----------------------------------------------------------------------------------
def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _pixels(h: int, w: int, c: int = 3, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    top = 65536 if dtype == np.uint16 else 256
    shape = (h, w) if c == 1 else (h, w, c)
    return _rng(seed).integers(0, top, shape, dtype=dtype)


def encode(ext: str, img: np.ndarray, params=()) -> bytes:
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok, ext
    return buf.tobytes()


def good_jpeg(seed: int = 0, size: int = 48) -> bytes:
    return encode(".jpg", _pixels(size, size, seed=seed))


def good_png(seed: int = 0, size: int = 48) -> bytes:
    return encode(".png", _pixels(size, size, seed=seed))


def png_header(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """The signature and an IHDR chunk (valid CRC), no image data: a small file that declares any size."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of_zeros(width: int, height: int, bit_depth: int = 16, colour: int = 6) -> bytes:
    """A complete, valid PNG of black pixels of any size, written without ever holding the pixels in memory
    (a few MB for 100 MP): the worst a real image under the pixel limit can cost to decode."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = bytes(1 + width * channels * bit_depth // 8)  # filter byte 0 + a black row
    comp = zlib.compressobj(1)
    parts = []
    for _ in range(height):
        parts.append(comp.compress(row))
    parts.append(comp.flush())
    return png_header(width, height, bit_depth, colour) + png_chunk(b"IDAT", b"".join(parts)) \
        + png_chunk(b"IEND", b"")


def tiff_header(width: int, height: int) -> bytes:
    """A little-endian baseline TIFF directory declaring width x height 8-bit grey, with one tiny strip."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 9 * 12 + 4), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + bytes(4)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(64)


def webp_header(width: int, height: int) -> bytes:
    """RIFF/WEBP with an extended (VP8X) header declaring a width x height canvas, then a small lossless chunk."""
    vp8x = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    vp8l = b"\x2f" + ((width - 1) & 0x3FFF | ((height - 1) & 0x3FFF) << 14).to_bytes(4, "little") + bytes(32)
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def bmp_header(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 64, 0, 0, 54) + info + bytes(64)


def jpeg_header(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + sof + b"\xff\xd9"


def garbled_jpeg() -> bytes:
    good = good_jpeg(seed=5, size=96)
    noise = _rng(1).integers(0, 256, len(good) - 400, dtype=np.uint8).tobytes()
    return good[:200] + noise + good[-200:]


def animated_gif() -> bytes:
    from PIL import Image

    frames = [Image.new("RGB", (32, 32), (i * 40, 0, 0)) for i in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


def cmyk_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("CMYK", (48, 48), (0, 255, 255, 0)).save(buf, "JPEG")
    return buf.getvalue()


def palette_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("P", (48, 48), 3).save(buf, "PNG")
    return buf.getvalue()


def multipage_tiff() -> bytes:
    from PIL import Image

    pages = [Image.new("RGB", (40, 40), (0, i * 60, 0)) for i in range(3)]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


# ---- file kinds ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileKind:
    id: str
    name: str | bytes  # bytes: a name that is not UTF-8
    write: Callable[[Path, Path], None]  # (path of the entry, workspace root)
    reason: str | None = None  # None: usable; else words the skip reason contains (lower case)
    decode_only: bool = False  # passes the listing and the cheap checks; found bad when decoded
    listing: bool = False  # skipped by the folder listing itself (links, folders, pipes, hidden files)
    needs_non_root: bool = False  # root reads files whatever their mode

    @property
    def usable(self) -> bool:
        return self.reason is None

    def path_in(self, folder: Path) -> Path:
        name = os.fsdecode(self.name) if isinstance(self.name, bytes) else self.name
        return folder / name


def _bytes(data_or_fn) -> Callable[[Path, Path], None]:
    def write(path: Path, root: Path) -> None:
        data = data_or_fn() if callable(data_or_fn) else data_or_fn
        path.write_bytes(data)
    return write


def _img(ext: str, make: Callable[[], np.ndarray], params=()) -> Callable[[Path, Path], None]:
    return _bytes(lambda: encode(ext, make(), params))


def _symlink(target: Callable[[Path, Path], str | Path]) -> Callable[[Path, Path], None]:
    def write(path: Path, root: Path) -> None:
        os.symlink(target(path, root), path)
    return write


def _outside(path: Path, root: Path) -> Path:
    target = root.parent / "outside-the-workspace.png"
    target.write_bytes(good_png(seed=77))
    return target


def _inside(path: Path, root: Path) -> Path:
    target = root / "inbox" / "linked-target.png"
    target.write_bytes(good_png(seed=78))
    return target


def _mkdir(path: Path, root: Path) -> None:
    path.mkdir()
    (path / "inner.jpg").write_bytes(good_jpeg(seed=9))


def _fifo(path: Path, root: Path) -> None:
    os.mkfifo(path)


def _sparse_huge(path: Path, root: Path) -> None:
    from fanqc_gui.core.image_files import MAX_FILE_BYTES

    with open(path, "wb") as fh:  # sparse: no disk used
        fh.write(good_jpeg(seed=3))
        fh.truncate(MAX_FILE_BYTES + 1)


def _unreadable(path: Path, root: Path) -> None:
    path.write_bytes(good_png(seed=11))
    path.chmod(0)


def _duplicate_of_first_good(path: Path, root: Path) -> None:
    path.write_bytes(good_png(seed=40))  # the same bytes as kind "duplicate_a"


def _in_both_classes(path: Path, root: Path) -> None:
    data = good_png(seed=41)
    path.write_bytes(data)
    (root / "GO" / "both-classes-copy.png").write_bytes(data)


FILE_KINDS: list[FileKind] = [
    # empty, not an image, cut short, garbled
    FileKind("zero_byte", "zero-byte.jpg", _bytes(b""), "empty file"),
    FileKind("text_named_jpg", "notes.jpg", _bytes(b"line 3 stopped at 14:02\n"), "not an image"),
    FileKind("html_named_png", "page.png", _bytes(b"<!doctype html><html><body>404</body></html>"), "not an image"),
    FileKind("animated_gif_named_png", "anim.png", _bytes(animated_gif), "not an image"),
    FileKind("truncated_jpeg", "truncated.jpg", _bytes(lambda: good_jpeg(seed=2)[:400]), "truncated jpeg"),
    FileKind("garbled_jpeg", "garbled.jpg", _bytes(garbled_jpeg), "cannot decode", decode_only=True),
    FileKind("jpeg_soi_eoi_only", "markers.jpg", _bytes(b"\xff\xd8\xff\xd9"), "cannot decode", decode_only=True),
    FileKind("truncated_png", "truncated.png", _bytes(lambda: good_png(seed=4)[:120]), "cannot decode",
             decode_only=True),
    FileKind("corrupt_png_data", "corrupt.png", _bytes(lambda: good_png(seed=5)[:60] + bytes(600)), "cannot decode",
             decode_only=True),
    FileKind("png_zero_size", "zero-size.png", _bytes(lambda: png_header(0, 0) + png_chunk(b"IEND", b"")),
             "cannot decode", decode_only=True),
    FileKind("truncated_tiff", "truncated.tif", _bytes(lambda: encode(".tif", _pixels(48, 48, seed=6))[:200]),
             "cannot decode", decode_only=True),
    FileKind("truncated_webp", "truncated.webp", _bytes(lambda: encode(".webp", _pixels(48, 48, seed=7))[:60]),
             "cannot decode", decode_only=True),
    FileKind("truncated_bmp", "truncated.bmp", _bytes(lambda: encode(".bmp", _pixels(48, 48, seed=8))[:300]),
             "cannot decode", decode_only=True),
    FileKind("float32_tiff", "float.tif", _img(".tif", lambda: _pixels(32, 32, c=1).astype(np.float32) / 255),
             "cannot decode", decode_only=True),
    # declared sizes far beyond the pixel limit, in a few bytes
    FileKind("huge_png_header", "huge.png", _bytes(lambda: png_header(20000, 20000)), "too large"),
    FileKind("huge_jpeg_header", "huge.jpg", _bytes(lambda: jpeg_header(60000, 60000)), "too large"),
    FileKind("huge_tiff_header", "huge.tif", _bytes(lambda: tiff_header(30000, 30000)), "too large",
             decode_only=True),
    FileKind("huge_webp_header", "huge.webp", _bytes(lambda: webp_header(16000, 16000)), "too large",
             decode_only=True),
    FileKind("huge_bmp_header", "huge.bmp", _bytes(lambda: bmp_header(20000, 20000)), "too large",
             decode_only=True),
    FileKind("file_over_size_cap", "gigabytes.jpg", _sparse_huge, "too large"),
    # odd but valid images: used
    FileKind("png_16bit", "deep16.png", _img(".png", lambda: _pixels(48, 48, dtype=np.uint16))),
    FileKind("tiff_16bit_grey", "deep16-grey.tif", _img(".tif", lambda: _pixels(48, 48, c=1, dtype=np.uint16))),
    FileKind("png_rgba", "rgba.png", _img(".png", lambda: _pixels(48, 48, c=4))),
    FileKind("png_grey", "grey.png", _img(".png", lambda: _pixels(48, 48, c=1))),
    FileKind("png_palette", "palette.png", _bytes(palette_png)),
    FileKind("jpeg_cmyk", "cmyk.jpg", _bytes(cmyk_jpeg)),
    FileKind("tiff_multipage", "pages.tiff", _bytes(multipage_tiff)),
    FileKind("webp_lossy", "photo.webp", _img(".webp", lambda: _pixels(48, 48, seed=12))),
    FileKind("bmp", "plain.bmp", _img(".bmp", lambda: _pixels(48, 48, seed=13))),
    FileKind("tiny_1x1", "one-pixel.png", _img(".png", lambda: _pixels(1, 1, seed=14))),
    FileKind("aspect_1x4000", "strip-tall.png", _img(".png", lambda: _pixels(4000, 1, seed=15))),
    FileKind("aspect_4000x1", "strip-wide.png", _img(".png", lambda: _pixels(1, 4000, seed=16))),
    FileKind("png_named_jpg", "really-a-png.jpg", _bytes(lambda: good_png(seed=17))),
    FileKind("upper_case_suffix", "SHOUT.JPG", _bytes(lambda: good_jpeg(seed=18))),
    FileKind("jpeg_trailing_bytes", "trailer.jpg", _bytes(lambda: good_jpeg(seed=19) + b"\x00" * 64)),
    FileKind("duplicate_a", "dup-a.png", _bytes(lambda: good_png(seed=40))),
    FileKind("duplicate_b", "dup-b.png", _duplicate_of_first_good),
    # names
    FileKind("non_utf8_name", b"bad-\xff\xfe-name.png", _bytes(lambda: good_png(seed=20))),
    FileKind("non_utf8_name_unusable", b"broken-\xe9.jpg", _bytes(b"not an image at all"), "not an image"),
    FileKind("very_long_name", "L" * 240 + ".png", _bytes(lambda: good_png(seed=21))),
    FileKind("newline_in_name", "line\nbreak.png", _bytes(lambda: good_png(seed=22))),
    FileKind("newline_in_unusable_name", "bad\nline.jpg", _bytes(b""), "empty file"),
    FileKind("leading_dash_name", "-rf.png", _bytes(lambda: good_png(seed=23))),
    FileKind("unicode_name", "不良品_é ü.png", _bytes(lambda: good_png(seed=24))),
    FileKind("shell_chars_name", "a;b $(x) 'q\".png", _bytes(lambda: good_png(seed=25))),
    # not regular files, or not ours
    FileKind("symlink_loop", "loop.jpg", _symlink(lambda p, r: p.name), "loop", listing=True),
    FileKind("dangling_link", "dangling.jpg", _symlink(lambda p, r: "no-such-file.jpg"), "broken link",
             listing=True),
    FileKind("link_outside", "outside.png", _symlink(_outside), "outside the workspace", listing=True),
    FileKind("link_inside", "inside-link.png", _symlink(_inside)),
    FileKind("folder_named_jpg", "folder.jpg", _mkdir, "folder", listing=True),
    FileKind("fifo", "pipe.png", _fifo, "not a regular file", listing=True),
    FileKind("hidden_file", ".hidden.jpg", _bytes(lambda: good_jpeg(seed=26)), "hidden", listing=True),
    FileKind("unreadable_chmod_000", "locked.png", _unreadable, "cannot read", needs_non_root=True),
    FileKind("same_image_in_go_and_ng", "both-classes.png", _in_both_classes, "both go and ng"),
]

KIND_BY_ID = {k.id: k for k in FILE_KINDS}
assert len(KIND_BY_ID) == len(FILE_KINDS)


def active_kinds() -> list[FileKind]:
    return [k for k in FILE_KINDS if not (k.needs_non_root and IS_ROOT)]


def place(kind: FileKind, root: Path) -> str:
    """The folder (GO or NG) a kind goes to: alternately, but both duplicates in GO and the GO-and-NG image in
    NG (its copy goes to GO)."""
    if kind.id in ("duplicate_a", "duplicate_b"):
        return "GO"
    if kind.id == "same_image_in_go_and_ng":
        return "NG"
    return "GO" if FILE_KINDS.index(kind) % 2 else "NG"


def make_corpus_workspace(root: Path, good_per_class: int = 8, kinds: list[FileKind] | None = None) -> Path:
    """A workspace of good_per_class generated good images per class, a few inbox images, and one entry of
    every file kind in GO or NG. Returns root."""
    for sub in ("GO", "NG", "inbox"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_good_images(root, good_per_class)
    for kind in kinds if kinds is not None else active_kinds():
        kind.write(kind.path_in(root / place(kind, root)), root)
    return root


def write_good_images(root: Path, per_class: int) -> None:
    """Plain, learnable parts: a GO part is a bright disc, an NG part the same disc with a dark notch."""
    rng = _rng(123)
    for label, folder in ((0, "GO"), (1, "NG")):
        for i in range(per_class):
            img = np.full((48, 48, 3), 30, np.uint8)
            cv2.circle(img, (24, 24), 16, (200, 200, 200), -1)
            if label:
                cv2.rectangle(img, (20, 6), (28, 22), (10, 10, 10), -1)
            img = np.clip(img.astype(np.int16) + rng.integers(-15, 16, img.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / folder / f"{folder.lower()}_{i:03d}.png"), img)
    for i in range(3):
        cv2.imwrite(str(root / "inbox" / f"inbox_{i}.png"), _pixels(48, 48, seed=60 + i))


def corpus_entry(kind: FileKind, root: Path) -> Path:
    return kind.path_in(root / place(kind, root))


# ---- workspace kinds -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkspaceKind:
    id: str
    make: Callable[[Path], None]  # builds the workspace at the given root (from a good one)
    words: tuple[str, ...]  # the one-line error contains each (lower case)
    needs_non_root: bool = False
    scan_ok: bool = False  # `fanqc scan` reports it without failing (exit 0); training refuses


def _rm(*subs: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        for sub in subs:
            shutil.rmtree(root / sub)
    return make


def _empty(sub: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        shutil.rmtree(root / sub)
        (root / sub).mkdir()
    return make


def _few(n: int) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        for p in sorted((root / "NG").iterdir())[n:]:
            p.unlink()
    return make


def _all_unusable(root: Path) -> None:
    for p in (root / "NG").iterdir():
        p.write_bytes(b"")


def _file_for_folder(root: Path) -> None:
    shutil.rmtree(root / "NG")
    (root / "NG").write_text("not a folder")


def _looping_class_folder(root: Path) -> None:
    shutil.rmtree(root / "NG")
    os.symlink("NG", root / "NG")


def _unreadable_class_folder(root: Path) -> None:
    (root / "NG").chmod(0)


def _bad_workspace_file(text: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / "fanqc-workspace.json").write_text(text)
    return make


def _missing_root(root: Path) -> None:
    shutil.rmtree(root)


def _root_is_a_file(root: Path) -> None:
    shutil.rmtree(root)
    root.write_text("a file, not a workspace")


WORKSPACE_KINDS: list[WorkspaceKind] = [
    WorkspaceKind("no_ng_folder", _rm("NG"), ("ng",), scan_ok=True),
    WorkspaceKind("no_go_folder", _rm("GO"), ("go",), scan_ok=True),
    WorkspaceKind("no_class_folders", _rm("GO", "NG"), ("no class folders",)),
    WorkspaceKind("empty_ng", _empty("NG"), ("ng", "0 usable"), scan_ok=True),
    WorkspaceKind("empty_go", _empty("GO"), ("go", "0 usable"), scan_ok=True),
    WorkspaceKind("too_few_ng", _few(2), ("ng", "2 usable"), scan_ok=True),
    WorkspaceKind("every_ng_unusable", _all_unusable, ("ng", "0 usable"), scan_ok=True),
    WorkspaceKind("class_folder_is_a_file", _file_for_folder, ("ng",), scan_ok=True),
    WorkspaceKind("class_folder_link_loop", _looping_class_folder, ("ng",), scan_ok=True),
    WorkspaceKind("class_folder_unreadable", _unreadable_class_folder, ("ng",), needs_non_root=True,
                  scan_ok=True),
    WorkspaceKind("workspace_file_not_json", _bad_workspace_file("{go_folder: 100"), ("fanqc-workspace.json",)),
    WorkspaceKind("workspace_file_escapes", _bad_workspace_file(json.dumps({"go_folder": "../../etc",
                                                                            "ng_folder": "NG"})), ("class folder",)),
    WorkspaceKind("workspace_file_same_folders", _bad_workspace_file(json.dumps({"go_folder": "NG",
                                                                                 "ng_folder": "NG"})), ("ng",)),
    WorkspaceKind("missing_root", _missing_root, ("not found",)),
    WorkspaceKind("root_is_a_file", _root_is_a_file, ("not",)),
]


# ---- model kinds ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelKind:
    id: str
    damage: Callable[[Path], None]  # changes a copy of a good model folder
    listed_damaged: bool = True  # `fanqc models` lists it as damaged (else: not a model folder at all, or
    # damage that only shows when the model file is opened)
    words: tuple[str, ...] = ()


def _meta_edit(**changes) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        meta = json.loads((folder / "metadata.json").read_text())
        meta.update(changes)
        (folder / "metadata.json").write_text(json.dumps(meta))
    return damage


def _meta_text(text: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        (folder / "metadata.json").write_text(text)
    return damage


def _tflite(data_or_fn) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for name in ("model.tflite", "model.fast.tflite"):
            path = folder / name
            if path.exists():
                data = data_or_fn(path.read_bytes()) if callable(data_or_fn) else data_or_fn
                path.write_bytes(data)
    return damage


def _remove(*names: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        for name in names:
            (folder / name).unlink(missing_ok=True)
    return damage


MODEL_KINDS: list[ModelKind] = [
    ModelKind("metadata_not_json", _meta_text("{\"threshold\": 0.5,"), words=("metadata",)),
    ModelKind("metadata_empty_file", _meta_text(""), words=("metadata",)),
    ModelKind("metadata_is_a_list", _meta_text("[1, 2, 3]"), words=("metadata",)),
    ModelKind("metadata_threshold_nan", _meta_text('{"threshold": NaN, "preprocessing": {"width": 48, '
                                                   '"height": 48}}'), words=("threshold",)),
    ModelKind("metadata_threshold_7", _meta_edit(threshold=7), words=("threshold",)),
    ModelKind("metadata_threshold_text", _meta_edit(threshold="high"), words=("threshold",)),
    ModelKind("metadata_created_number", _meta_edit(created=12345), words=("created",)),
    ModelKind("metadata_preprocessing_null", _meta_edit(preprocessing=None), words=("preprocessing",)),
    ModelKind("metadata_size_huge", _meta_edit(preprocessing={"width": 100000, "height": 100000,
                                                              "interpolation": "area"}), words=("image size",)),
    ModelKind("metadata_size_zero", _meta_edit(preprocessing={"width": 0, "height": 48, "interpolation": "area"}),
              words=("image size",)),
    ModelKind("metadata_size_text", _meta_edit(preprocessing={"width": "48", "height": 48, "interpolation": "area"}),
              words=("whole number",)),
    ModelKind("metadata_interpolation_unknown", _meta_edit(preprocessing={"width": 48, "height": 48,
                                                                          "interpolation": "magic"}),
              words=("interpolation",)),
    ModelKind("metadata_future_schema", _meta_edit(schema=99), words=("newer",)),
    ModelKind("tflite_truncated", _tflite(lambda b: b[: len(b) // 3]), listed_damaged=False),
    ModelKind("tflite_random_bytes", _tflite(lambda b: _rng(2).integers(0, 256, 4096, np.uint8).tobytes()),
              listed_damaged=False),
    ModelKind("tflite_empty", _tflite(b""), listed_damaged=False),
    ModelKind("no_model_files", _remove("model.tflite", "model.fast.tflite", "model.keras"), listed_damaged=False),
]
