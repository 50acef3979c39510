"""Masking of secrets in what a task record shows about itself.

A callback's headers often carry credentials (`Authorization`, API keys,
tokens); the record shows the callback as it was given, but with those values
masked, since anyone who may read the task may not hold them.
"""

from __future__ import annotations

import re
from typing import Any

from .egress import redact

MASK = "***"
_SECRET_NAME = re.compile(r"auth|token|secret|key|password|passwd|cookie|session|credential|signature",
                          re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^(bearer|basic|token|digest)\s+\S", re.IGNORECASE)


def looks_secret(name: str, value: str) -> bool:
    """True for a header whose name or value says it carries a credential."""
    return bool(_SECRET_NAME.search(name) or _SECRET_VALUE.match(value or ""))


def masked_callback(callback: dict[str, Any] | None) -> dict[str, Any] | None:
    """The callback as given, with secret-looking header values replaced by `***` and the URL without its
    user info or query (where credentials hide too)."""
    if callback is None:
        return None
    headers = {name: MASK if looks_secret(name, str(value)) else value
               for name, value in (callback.get("headers") or {}).items()}
    shown = {**callback, "headers": headers}
    if isinstance(shown.get("url"), str):
        shown["url"] = redact(shown["url"])
    return shown
