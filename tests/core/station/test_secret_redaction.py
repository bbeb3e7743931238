"""No credential of a stream address reaches a message, the JSON output or the inspection log."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fanqc_gui.core.station.camera_sources import SourceError, SourceSpec
from fanqc_gui.core.station.secret_redaction import redact_text, redact_url

SECRETS = ("hunter2", "s3cr3t#1", "p/ss?w#rd", "tok123")


@pytest.mark.parametrize("url, shown", [
    ("http://cam/video.cgi?user=admin&pwd=hunter2", "http://cam/video.cgi?user=admin&pwd=***"),
    ("rtsp://admin:s3cr3t#1@host/", "rtsp://admin:***@host/"),
    ("rtsp://admin:p/ss?w#rd@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
    ("http://u:pw@cam/x?token=tok123&size=2", "http://u:***@cam/x?token=***&size=2"),
    ("rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live"),
    ("rtsp://viewer@10.0.0.5/live", "rtsp://viewer@10.0.0.5/live"),
])
def test_addresses_lose_their_secrets(url, shown):
    assert redact_url(url) == shown
    for secret in SECRETS:
        assert secret not in redact_url(url)


def test_secrets_inside_messages_are_redacted():
    text = "cannot open http://cam/video.cgi?user=admin&pwd=hunter2 or rtsp://admin:s3cr3t#1@host/ now"
    assert not any(secret in redact_text(text) for secret in SECRETS)


def test_a_stream_describes_itself_without_its_password():
    assert "s3cr3t" not in SourceSpec.parse("rtsp://admin:s3cr3t#1@host/").describe()
    with pytest.raises(SourceError) as caught:
        SourceSpec.parse("gopher://admin:s3cr3t@host/")
    assert "s3cr3t" not in str(caught.value)


def test_inspect_never_prints_the_password_of_an_unreachable_stream(tmp_path):
    """JSON, stderr and the log of a run against a stream that cannot be reached (a closed local port)."""
    ws = tmp_path / "ws"
    (ws / "GO").mkdir(parents=True)
    (ws / "NG").mkdir()
    url = "http://admin:s3cr3t#1@127.0.0.1:9/video.cgi?user=admin&pwd=hunter2"
    result = subprocess.run([sys.executable, "-m", "fanqc_gui.cli", "inspect", "--source", url, "--workspace",
                             str(ws), "--frames", "1", "--json"], capture_output=True, text=True, timeout=120)
    everything = result.stdout + result.stderr
    for log in (ws / ".fanqc").glob("*"):
        everything += log.read_bytes().decode("utf-8", "replace")
    assert not any(secret in everything for secret in SECRETS), everything[-2000:]
    if result.stdout.strip():
        json.loads(result.stdout)
