"""Reading a task's input references under the service's rules.

A `file` input is read only from under the data directory or a folder of
`SERVICE_FILE_ROOTS` (the path is resolved first, so neither `..` nor a
symlink leads out); `http(s)` inputs only from hosts `SERVICE_ALLOWED_HOSTS`
allows, checked after name resolution; `inline` data is taken as is. Every
read is bounded by `SERVICE_MAX_INPUT_BYTES`. A refusal says which rule
refused and never shows what the file or answer held.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

import httpx

from . import egress
from .data import UnsupportedReference
from .models import DataReference
from .netpolicy import HostPolicy, PolicyRefused
from .settings import ServiceSettings

REMOTE = ("http", "https")


class InputRefused(UnsupportedReference):
    """An input the rules do not let this service read; the message names the rule."""


@dataclass(frozen=True)
class InputPolicy:
    """Where inputs may come from, and how large they may be."""

    roots: tuple[Path, ...]
    hosts: HostPolicy
    max_bytes: int = 256 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> InputPolicy:
        own = [(h, settings.port) for h in ("localhost", "127.0.0.1", "::1", settings.host)
               if h not in ("0.0.0.0", "::")]
        hosts = HostPolicy.parse(settings.allowed_hosts).deny(own)
        return cls(tuple(settings.file_root_paths()), hosts, settings.max_input_bytes)

    # -- checks (no reading) ---------------------------------------------------------------

    def file_path(self, ref: DataReference) -> Path:
        """The resolved path of a `file` input inside a root; InputRefused otherwise."""
        uri = ref.uri
        if "\x00" in uri:
            raise InputRefused("file input path holds a NUL character")
        raw = unquote(urlparse(uri).path) if uri.lower().startswith("file:") else uri
        given = Path(raw)
        if ".." in given.parts:
            raise InputRefused("file input path holds '..' (not allowed in file inputs)")
        path = (given if given.is_absolute() else self.roots[0] / given).resolve()
        if not any(path == root or path.is_relative_to(root) for root in self.roots):
            raise InputRefused(f"file input {str(given)[:200]!r} is outside the data directory and "
                               "SERVICE_FILE_ROOTS (symlinks are followed before the check)")
        if not path.is_file():
            raise InputRefused(f"file input {str(given)[:200]!r} does not exist or is not a regular file")
        return path

    def check(self, ref: DataReference) -> None:
        """Refuse, before any work starts, an input the rules forbid (no DNS, no reading)."""
        protocol = ref.protocol.lower()
        if protocol == "file":
            self.file_path(ref)
        elif protocol in REMOTE:
            try:
                egress.check_url(ref.uri, self.hosts)
            except PolicyRefused as exc:
                raise InputRefused(f"http(s) input refused by SERVICE_ALLOWED_HOSTS: {exc}") from None

    def check_callback(self, url: str) -> None:
        """Refuse a callback URL the host policy forbids (as written; checked again on delivery)."""
        try:
            egress.check_url(url, self.hosts)
        except PolicyRefused as exc:
            raise InputRefused(f"callback URL refused by SERVICE_ALLOWED_HOSTS: {exc}") from None

    # -- reading ------------------------------------------------------------------------------

    def read_bytes(self, ref: DataReference, max_bytes: int | None = None) -> bytes:
        """The bytes an input holds, at most `max_bytes` (default `SERVICE_MAX_INPUT_BYTES`)."""
        limit = min(max_bytes or self.max_bytes, self.max_bytes)
        protocol = ref.protocol.lower()
        if protocol == "inline":
            raw = (base64.b64decode(ref.uri, validate=True) if ref.data is None
                   else json.dumps(ref.data).encode())
        elif protocol == "file":
            path = self.file_path(ref)
            if path.stat().st_size > limit:
                raise InputRefused(f"file input is larger than {limit} bytes")
            with path.open("rb") as fh:
                raw = fh.read(limit + 1)
        elif protocol in REMOTE:
            try:
                raw = egress.fetch(ref.uri, self.hosts, limit)
            except PolicyRefused as exc:
                raise InputRefused(f"http(s) input refused by SERVICE_ALLOWED_HOSTS: {exc}") from None
            except egress.FetchError as exc:
                raise InputRefused(f"http(s) input {egress.redact(ref.uri)} {exc}") from None
            except httpx.HTTPError as exc:
                raise InputRefused(f"http(s) input {egress.redact(ref.uri)} could not be read: "
                                   f"{type(exc).__name__}") from None
        else:
            raise UnsupportedReference(f"cannot read {ref.protocol[:50]!r} references here")
        if len(raw) > limit:
            raise InputRefused(f"input is larger than {limit} bytes")
        return raw

    def open(self, ref: DataReference, max_bytes: int | None = None) -> BinaryIO:
        """A binary file object over the input (files opened in place, others buffered)."""
        if ref.protocol.lower() == "file":
            limit = min(max_bytes or self.max_bytes, self.max_bytes)
            path = self.file_path(ref)
            if path.stat().st_size > limit:
                raise InputRefused(f"file input is larger than {limit} bytes")
            return path.open("rb")
        return io.BytesIO(self.read_bytes(ref, max_bytes))

    def load(self, ref: DataReference, max_bytes: int | None = None) -> Any:
        """The input's value: inline data as is, JSON parsed, other formats as text."""
        if ref.protocol.lower() == "inline":
            return ref.inline_value()
        raw = self.read_bytes(ref, max_bytes)
        if ref.format.lower() == "json":
            try:
                return json.loads(raw)
            except ValueError:
                raise InputRefused("input is not valid JSON") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputRefused("input is not UTF-8 text") from None

    def check_all(self, refs: Sequence[DataReference]) -> list[dict[str, Any]]:
        """Validation errors (FastAPI's shape) for every refused input, empty when all are fine."""
        errors = []
        for i, ref in enumerate(refs):
            try:
                self.check(ref)
            except InputRefused as exc:
                errors.append({"type": "input_refused", "loc": ("body", "inputs", i, "uri"), "msg": str(exc),
                               "input": None})
        return errors
