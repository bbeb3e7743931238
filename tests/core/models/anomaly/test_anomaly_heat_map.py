"""Drawing the anomaly map over a part: good regions stay as they are, the differing region is coloured and
outlined, and the map always covers the image it came from."""
from __future__ import annotations

import numpy as np
import pytest

from fanqc_gui.core.imaging import ImageError
from fanqc_gui.core.models.anomaly.heat_map import hot_spot, overlay, resize_map


def _part() -> np.ndarray:
    return np.full((120, 200, 3), 128, np.uint8)


def test_a_good_part_is_drawn_unchanged_and_a_defect_is_coloured_and_outlined():
    good_map = np.full((6, 10), 0.1, np.float32)
    assert np.array_equal(overlay(_part(), good_map, threshold=0.5), _part())
    defect_map = good_map.copy()
    defect_map[1:3, 7:9] = 0.95  # top right
    drawn = overlay(_part(), defect_map, threshold=0.5)
    changed = np.any(drawn != _part(), axis=2)
    assert changed[20:60, 140:180].mean() > 0.9  # the defect's cells (20 px each) are coloured
    assert not changed[80:, :100].any()  # far from it nothing moves
    assert (drawn[..., 2] > 200).any()  # the red outline


def test_the_hot_spot_is_where_the_map_peaks_in_image_pixels():
    amap = np.zeros((6, 10), np.float32)
    amap[4, 2] = 0.8
    x, y, value = hot_spot(amap, 200, 120)
    assert (x, y, value) == (50, 90, pytest.approx(0.8))
    assert resize_map(amap, 200, 120).shape == (120, 200)


def test_wrong_inputs_are_refused_with_the_reason():
    with pytest.raises(ImageError, match="BGR uint8"):
        overlay(np.zeros((10, 10), np.uint8), np.zeros((2, 2)), 0.5)
    with pytest.raises(ImageError, match="two dimensions"):
        overlay(_part(), np.zeros((1, 6, 10)), 0.5)
