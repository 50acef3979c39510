"""Reading the data a DataReference points at: inline, file and http(s).

`s3` (and any other protocol) stays a plain reference: the service that
understands it reads it itself; here it is a clear error, not a guess.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx

from .models import DataReference


class UnsupportedReference(ValueError):
    """A reference this service cannot read (unknown protocol, missing file...)."""


def file_path(ref: DataReference) -> Path:
    """The local path of a `file` reference (`file:///abs/path` or a plain path)."""
    uri = ref.uri
    path = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
    if not path.exists():
        raise UnsupportedReference(f"file {path} (from {uri!r}) does not exist")
    return path


def read_bytes(ref: DataReference, timeout: float = 60.0) -> bytes:
    protocol = ref.protocol.lower()
    if protocol == "inline":
        if ref.data is None:
            return base64.b64decode(ref.uri, validate=True)
        return json.dumps(ref.data).encode()
    if protocol == "file":
        return file_path(ref).read_bytes()
    if protocol in ("http", "https"):
        response = httpx.get(ref.uri, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        return response.content
    raise UnsupportedReference(f"cannot read {ref.protocol!r} references here ({ref.uri})")


def load(ref: DataReference) -> Any:
    """The referenced data: inline `data` as is, JSON files parsed, other text as a string."""
    if ref.protocol.lower() == "inline":
        return ref.inline_value()
    if ref.data is not None and ref.protocol.lower() not in ("file", "http", "https"):
        return ref.data
    raw = read_bytes(ref)
    if ref.format.lower() == "json":
        return json.loads(raw)
    return raw.decode()


def file_reference(path: Path, fmt: str, data: Any = None) -> DataReference:
    """A `file` reference to `path`, optionally with a small inline summary."""
    return DataReference(protocol="file", uri=path.resolve().as_uri(), format=fmt, data=data)
