"""Files the store and the station write follow the user's umask (not a private 0600), and metadata holds any
file name the file system allows, UTF-8 or not."""
from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from fanqc_gui.core.atomic_io import write_bytes_atomic, write_json_atomic
from fanqc_gui.core.station.inspection_log import InspectionLog

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_are_readable_by_other_accounts_under_the_usual_umask(tmp_path):
    write_bytes_atomic(tmp_path / "model.tflite", b"x")
    write_json_atomic(tmp_path / "metadata.json", {"a": 1})
    expected = 0o666 & ~_current_umask()
    assert _mode(tmp_path / "model.tflite") == expected
    assert _mode(tmp_path / "metadata.json") == expected


def test_csv_export_of_the_inspection_log_follows_the_umask(tmp_path):
    log = InspectionLog(tmp_path / "inspections.sqlite")
    out = tmp_path / "log.csv"
    log.export_csv(out)
    log.close()
    assert _mode(out) == 0o666 & ~_current_umask()


def test_metadata_keeps_a_file_name_that_is_not_utf8(tmp_path):
    name = os.fsdecode(b"part-\xff\xfe.jpg")  # what os.listdir gives for a Latin-1 name on a UTF-8 system
    write_json_atomic(tmp_path / "metadata.json", {"validation_files": [{"path": f"NG/{name}"}]})
    back = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    assert os.fsencode(back["validation_files"][0]["path"]) == b"NG/part-\xff\xfe.jpg"


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
