"""Bearer tokens → users and roles (seed 001's `User` and `Permission`).

`*_API_KEYS` holds a JSON object, or `@path` to a file holding one, mapping
each token to `{"user": NAME, "role": "admin" | "user"}`; the single
`*_API_KEY` stays an admin key named `admin`. A `user` sees and steers only
its own work, an `admin` everything. With no key configured the API is open
and every caller is the anonymous admin (`user` None).

Tokens are compared as bytes in constant time against every known token, so
neither a token's content (non-ASCII, control characters) nor how much of it
matches changes the answer's timing or makes it fail.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Role = Literal["admin", "user"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user name (None when the API is open) and a role."""

    user: str | None
    role: Role = "user"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, owner: str | None) -> bool:
        """Admins see everything; a user only what it owns."""
        return self.is_admin or (owner is not None and owner == self.user)


ANONYMOUS = Principal(None, "admin")


class ApiKeysError(ValueError):
    """A malformed `*_API_KEYS` value; the message says what is wrong."""


def load_keys(raw: str | None) -> dict[str, Principal]:
    """Parse `*_API_KEYS`: a JSON object (or `@path` to one) of token → {"user", "role"}."""
    if raw is None or not raw.strip():
        return {}
    text = raw.strip()
    if text.startswith("@"):
        try:
            text = Path(text[1:]).expanduser().read_text(encoding="utf-8")
        except OSError as exc:
            raise ApiKeysError(f"cannot read API keys file {text[1:]!r}: {exc.strerror}") from None
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise ApiKeysError(f"API keys must be a JSON object of token -> {{user, role}}: {exc}") from None
    if not isinstance(data, dict):
        raise ApiKeysError("API keys must be a JSON object of token -> {user, role}")
    keys: dict[str, Principal] = {}
    for token, entry in data.items():
        if not token:
            raise ApiKeysError("an API key token is empty")
        if not isinstance(entry, dict) or not isinstance(entry.get("user"), str) or not entry["user"]:
            raise ApiKeysError("every API key entry must be an object with a non-empty string 'user'")
        role = entry.get("role", "user")
        if role not in ("admin", "user"):
            raise ApiKeysError(f"role of user {entry['user']!r} must be 'admin' or 'user', not {role!r}")
        keys[token] = Principal(entry["user"], role)
    return keys


class KeyRing:
    """Every accepted token, with the principal it stands for."""

    def __init__(self, keys: dict[str, Principal]) -> None:
        self._keys = [(token.encode("utf-8"), principal) for token, principal in keys.items()]

    @classmethod
    def from_settings(cls, api_key: str | None, api_keys: str | None) -> KeyRing:
        keys = load_keys(api_keys)
        if api_key:
            keys.setdefault(api_key, Principal("admin", "admin"))
        return cls(keys)

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (otherwise the API is open)."""
        return bool(self._keys)

    def users(self) -> list[str]:
        return sorted({p.user for _, p in self._keys if p.user})

    def authenticate(self, token: bytes | str | None) -> Principal | None:
        """The principal of `token`, or None; constant time over every known token."""
        if not self._keys:
            return ANONYMOUS
        if token is None:
            return None
        given = token.encode("utf-8", "surrogateescape") if isinstance(token, str) else bytes(token)
        found: Principal | None = None
        for known, principal in self._keys:
            if hmac.compare_digest(given, known) and found is None:
                found = principal
        return found

    def from_authorization(self, header: bytes | str | None) -> Principal | None:
        """Authenticate an `Authorization: Bearer <token>` header value (raw bytes preferred)."""
        if not self._keys:
            return ANONYMOUS
        if header is None:
            return None
        raw = header.encode("utf-8", "surrogateescape") if isinstance(header, str) else bytes(header)
        scheme, _, token = raw.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        return self.authenticate(token.strip())
