"""Decoding every kind of image a user drops in, and THE one preprocessing."""
from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from fanqc_gui.core.imaging import (
    ImageError,
    PreprocessSpec,
    decode_bytes,
    decode_image,
    image_size,
    is_image_file,
    load_for_model,
    preprocess,
)


def _png_bytes(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def _pil_bytes(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk claiming width x height, with no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def _random_bgr(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["a.jpg", "a.JPG", "a.jpeg", "a.Jpeg", "a.png", "a.PNG", "a.bmp", "a.tif",
                                  "a.TIFF", "a.webp", "不良品_é.png"])
def test_image_extensions_are_recognised_in_any_case(name):
    assert is_image_file(name)


@pytest.mark.parametrize("name", ["a.gif", "a.txt", "notes", "a.jpg.bak", "a.heic"])
def test_other_files_are_not_images(name):
    assert not is_image_file(name)


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".webp"])
def test_lossless_formats_decode_to_the_pixels_written(tmp_path, ext):
    bgr = _random_bgr()
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []  # quality > 100 = lossless WebP
    ok, buf = cv2.imencode(ext, bgr, params)
    assert ok
    path = tmp_path / f"img{ext}"
    path.write_bytes(buf.tobytes())
    out = decode_image(path)
    assert out.dtype == np.uint8 and out.shape == bgr.shape
    np.testing.assert_array_equal(out, bgr)


def test_16_bit_colour_png_keeps_the_high_byte(tmp_path):
    deep = np.random.default_rng(1).integers(0, 65536, (20, 30, 3), dtype=np.uint16)
    path = tmp_path / "deep.png"
    path.write_bytes(_png_bytes(deep))
    out = decode_image(path)
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, (deep >> 8).astype(np.uint8))


def test_16_bit_grey_png_becomes_three_equal_channels(tmp_path):
    deep = np.random.default_rng(2).integers(0, 65536, (20, 30), dtype=np.uint16)
    path = tmp_path / "deep_grey.png"
    path.write_bytes(_png_bytes(deep))
    out = decode_image(path)
    assert out.shape == (20, 30, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], (deep >> 8).astype(np.uint8))


def test_grey_png_becomes_three_equal_channels(tmp_path):
    grey = np.random.default_rng(3).integers(0, 256, (25, 35), dtype=np.uint8)
    path = tmp_path / "grey.png"
    path.write_bytes(_png_bytes(grey))
    out = decode_image(path)
    assert out.shape == (25, 35, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_rgba_png_drops_alpha_and_keeps_colour(tmp_path):
    bgra = np.zeros((10, 10, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = 30, 20, 10
    bgra[..., 3] = np.arange(100, dtype=np.uint8).reshape(10, 10)  # mostly transparent
    path = tmp_path / "rgba.png"
    path.write_bytes(_png_bytes(bgra))
    out = decode_image(path)
    assert out.shape == (10, 10, 3)
    np.testing.assert_array_equal(out, bgra[..., :3])


def test_palette_png_decodes_to_its_colours(tmp_path):
    image = Image.new("P", (8, 8))
    image.putpalette([10, 20, 30] * 256)
    path = tmp_path / "palette.png"
    path.write_bytes(_pil_bytes(image, "PNG"))
    assert decode_image(path)[0, 0].tolist() == [30, 20, 10]  # BGR


@pytest.mark.parametrize("cmyk, bgr", [
    ((0, 255, 255, 0), (0, 0, 255)),      # red
    ((255, 0, 255, 0), (0, 255, 0)),      # green
    ((255, 255, 0, 0), (255, 0, 0)),      # blue
    ((0, 0, 0, 128), (127, 127, 127)),    # grey
    ((0, 0, 0, 0), (255, 255, 255)),      # white
])
def test_cmyk_jpeg_colours_come_out_right(tmp_path, cmyk, bgr):
    path = tmp_path / "cmyk.jpg"
    path.write_bytes(_pil_bytes(Image.new("CMYK", (16, 16), cmyk), "JPEG"))
    out = decode_image(path)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert np.abs(out[8, 8].astype(int) - bgr).max() <= 4


def test_non_ascii_file_name_decodes(tmp_path):
    bgr = _random_bgr(seed=4)
    folder = tmp_path / "検査"
    folder.mkdir()
    path = folder / "不良品_é.png"
    path.write_bytes(_png_bytes(bgr))
    np.testing.assert_array_equal(decode_image(path), bgr)
    assert image_size(path) == (56, 40)


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("these are my notes, not a photo\n"), "not an image"),
    (lambda p: p.write_bytes(cv2.imencode(".jpg", _random_bgr())[1].tobytes()[:300]), "truncated JPEG"),
    (lambda p: p.write_bytes(_png_header_only(20000, 20000)), "too large"),
    (lambda p: p.write_bytes(_png_bytes(_random_bgr())[:60] + b"\0" * 200), "cannot decode PNG"),
    (lambda p: p.write_bytes(_pil_bytes(Image.new("F", (8, 8), 0.5), "TIFF")), "cannot decode TIFF"),  # float
])
def test_unusable_files_raise_image_error_with_the_reason(tmp_path, make, reason):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageError, match=reason):
        decode_image(path)


def test_huge_image_is_refused_from_its_header_with_its_size():
    with pytest.raises(ImageError) as err:
        decode_bytes(_png_header_only(20000, 20000))
    assert "20000x20000" in str(err.value) and "100 MP" in str(err.value)


def test_missing_file_and_folder_are_reported(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        decode_image(tmp_path / "nothing.jpg")
    with pytest.raises(ImageError, match="folder"):
        decode_image(tmp_path)


def test_jpeg_size_is_read_from_the_header(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(cv2.imencode(".jpg", _random_bgr(33, 71))[1].tobytes())
    assert image_size(path) == (71, 33)


# ---- the one preprocessing ------------------------------------------------------------------------------

def test_preprocess_gives_rgb_float32_in_unit_range_at_model_size():
    bgr = np.zeros((50, 70, 3), np.uint8)
    bgr[..., 0] = 255  # pure blue in OpenCV's BGR order
    out = preprocess(bgr, PreprocessSpec(width=24, height=16))
    assert out.shape == (16, 24, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, 0], [0.0, 0.0, 1.0])  # RGB: blue last


@pytest.mark.parametrize("interpolation", ["area", "bilinear", "nearest_exact"])
def test_file_on_disk_and_camera_frame_give_the_identical_tensor(tmp_path, interpolation):
    path = tmp_path / "part.jpg"
    path.write_bytes(cv2.imencode(".jpg", _random_bgr(96, 128, seed=5))[1].tobytes())
    spec = PreprocessSpec(width=80, height=80, interpolation=interpolation)
    from_file = load_for_model(path, spec)
    camera_frame = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(from_file, preprocess(camera_frame, spec))
    assert np.array_equal(from_file, preprocess(decode_image(path), spec))


@pytest.mark.parametrize("size", [(96, 96), (97, 131), (40, 40), (80, 80)])
def test_nearest_exact_resizes_like_pil_nearest(size):
    """The reference script resized with PIL NEAREST; `nearest_exact` must pick the same pixels."""
    rgb = np.random.default_rng(6).integers(0, 256, (*size, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb).resize((80, 80), Image.NEAREST), np.float32) / np.float32(255)
    ours = preprocess(rgb[..., ::-1].copy(), PreprocessSpec(interpolation="nearest_exact"))
    np.testing.assert_allclose(ours, pil, rtol=0, atol=1e-7)


def test_preprocess_refuses_frames_that_are_not_bgr_uint8():
    with pytest.raises(ImageError, match="BGR uint8"):
        preprocess(np.zeros((10, 10), np.uint8), PreprocessSpec())
    with pytest.raises(ImageError, match="BGR uint8"):
        preprocess(np.zeros((10, 10, 3), np.float32), PreprocessSpec())


def test_preprocess_spec_round_trips_and_rejects_nonsense():
    spec = PreprocessSpec(width=64, height=48, interpolation="bilinear")
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown interpolation"):
        PreprocessSpec(interpolation="lanczos9")
    with pytest.raises(ValueError, match="too small"):
        PreprocessSpec(width=4, height=4)
    with pytest.raises(ValueError, match="unsupported preprocessing"):
        PreprocessSpec(scale="mean/std")


@pytest.mark.parametrize("width, height, words", [(100_000, 100_000, "too large"), (48, 5000, "too large"),
                                                  ("48", 48, "whole numbers"), (48.0, 48, "whole numbers"),
                                                  (True, 48, "whole numbers")])
def test_preprocess_spec_refuses_sizes_no_model_has(width, height, words):
    """A metadata.json asking for a 100000x100000 input once reached cv2.resize: a 30 GB allocation and a
    traceback in predict, evaluate and inspect; it is now a damaged model with its reason."""
    with pytest.raises(ValueError, match=words):
        PreprocessSpec(width=width, height=height)
    assert PreprocessSpec(width=np.int64(4096), height=32).width == 4096
