"""Peak memory of decoding one hostile image, measured in a fresh process (VmHWM of /proc/self/status; not
getrusage's maxrss, which Linux carries over from the forking parent, here pytest at ~1 GB): at most
1 GB for each kind that declares a huge picture in a small file, and for the largest real image the pixel
limit lets through (100 MP, 16-bit RGBA: the most bytes per pixel OpenCV decodes)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from corpus import FILE_KINDS, png_of_zeros

LIMIT_KB = 1_000_000  # 1 GB
HUGE = [k for k in FILE_KINDS if k.id.startswith("huge_") or k.id == "file_over_size_cap"]

_MEASURE = """
import sys
import fanqc_gui
from fanqc_gui.core.imaging import ImageError, decode_image
def peak_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
base = peak_kb()
try:
    img = decode_image(sys.argv[1])
    outcome = "decoded %dx%d" % (img.shape[1], img.shape[0])
    del img
except ImageError as exc:
    outcome = "refused: %s" % exc
print(peak_kb(), base, outcome)
"""


def _peak_kb(path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    peak, _base, outcome = proc.stdout.split(" ", 2)
    return int(peak), outcome.strip()


@pytest.mark.parametrize("kind", HUGE, ids=[k.id for k in HUGE])
def test_a_huge_header_costs_under_a_gigabyte(kind, tmp_path):
    (tmp_path / "ws").mkdir()
    path = tmp_path / (kind.name if isinstance(kind.name, str) else "x.png")
    kind.write(path, tmp_path / "ws")
    peak, outcome = _peak_kb(path)
    assert outcome.startswith("refused") and kind.reason in outcome.lower(), outcome
    assert peak <= LIMIT_KB, f"{peak / 1e6:.2f} GB peak ({outcome})"


@pytest.mark.slow
@pytest.mark.parametrize("width, height, bit_depth, colour", [(10_000, 10_000, 16, 6), (10_000, 10_000, 8, 2)],
                         ids=["100MP_rgba16", "100MP_rgb8"])
def test_the_largest_image_allowed_decodes_under_a_gigabyte(tmp_path, width, height, bit_depth, colour):
    path = tmp_path / "largest.png"
    path.write_bytes(png_of_zeros(width, height, bit_depth, colour))
    peak, outcome = _peak_kb(path)
    assert outcome == f"decoded {width}x{height}", outcome
    assert peak <= LIMIT_KB, f"{peak / 1e6:.2f} GB peak ({outcome})"
