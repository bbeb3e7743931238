"""Credentials never leave the station in text: stream addresses are shown, logged and put in JSON without
their password or secret query values.

Written without urlsplit on purpose: a password may hold '#', '/' or '?' (`rtsp://admin:s3cr3t#1@host/`),
which a URL parser takes for the fragment, path or query and then prints back unredacted.
"""
from __future__ import annotations

import re

MASK = "***"
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)(.*)$", re.DOTALL)
# Query keys whose values are secrets (cameras use many spellings: pwd, passwd, password, token, apikey...).
_SECRET_KEY = re.compile(r"(pass|pwd|secret|token|key|auth|sig|credential|session)", re.IGNORECASE)
_QUERY_PAIR = re.compile(r"([?&;])([^=&;#]+)=([^&;#]*)")


def redact_url(text: str) -> str:
    """The address without its password and without the values of secret-looking query parameters."""
    match = _SCHEME.match(text or "")
    if not match:
        return text
    scheme, rest = match.groups()
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        user = userinfo.split(":", 1)[0] if ":" in userinfo else userinfo
        # With '/' in what precedes '@' the "user" may be a path: hide it whole rather than guess.
        shown_user = MASK if "/" in user else user
        rest = f"{shown_user}:{MASK}@{rest}" if ":" in userinfo or "/" in userinfo else f"{shown_user}@{rest}"
    rest = _QUERY_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}" if _SECRET_KEY.search(m.group(2))
                           else m.group(0), rest)
    return scheme + rest


def redact_text(text: str) -> str:
    """Every address inside a longer text (an error message, a log line) redacted."""
    return re.sub(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+", lambda m: redact_url(m.group(0)), text or "")
