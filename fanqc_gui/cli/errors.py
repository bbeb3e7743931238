"""How `fanqc` fails: a user's error is one line (`fanqc: error: ...`) and exit status 2, never a
traceback; anything else is a bug and raises."""
from __future__ import annotations

from fanqc_gui.core.errors import FanQCError, user_message

EXIT_USER_ERROR = 2


class UserError(FanQCError):
    pass


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """(one-line message, is it the user's error?) for an exception raised by a command."""
    message = user_message(exc)
    if message is not None:
        return message, True
    if isinstance(exc, ValueError):  # argument values refused by the standard library (int(), paths...)
        return str(exc) or type(exc).__name__, True
    return str(exc), False
