"""Who is calling the API: bearer tokens → users and roles, and who may see which workflow.

`ORCHESTRATOR_API_KEYS` maps tokens to `{"user", "role"}` (see
`taskservice.apikeys`); `ORCHESTRATOR_API_KEY` stays an admin key. A `user`
sees and steers only the workflows it submitted (another's answer 404, as if
they did not exist), an `admin` all of them. With no key the API is open and
every caller is the anonymous admin.

The header is read as raw bytes and compared in constant time, so a token
holding non-ASCII or control characters is a plain 401.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from taskservice.apikeys import KeyRing, Principal

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _raw_header(request: Request, name: bytes) -> bytes | None:
    for key, value in request.scope.get("headers", ()):
        if key == name:
            return value
    return None


def principal_of(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 naming the header otherwise."""
    ring: KeyRing = request.app.state.keyring
    principal = ring.from_authorization(_raw_header(request, b"authorization"))
    if principal is None:
        raise HTTPException(401, "missing or wrong bearer token in the Authorization header", headers=_CHALLENGE)
    return principal


# dependencies: `async def`, so FastAPI calls them on the event loop, not through its threadpool
async def current_principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; 401 naming the header otherwise."""
    return principal_of(request)


async def current_principal_or_query(request: Request) -> Principal:
    """The bearer header, or `?api_key=` (browsers' EventSource cannot set headers)."""
    ring: KeyRing = request.app.state.keyring
    token = request.query_params.get("api_key")
    if token is not None and ring.enabled:
        principal = ring.authenticate(token)
        if principal is None:
            raise HTTPException(401, "wrong api_key query parameter", headers=_CHALLENGE)
        return principal
    return principal_of(request)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def ensure_visible(principal: Principal, wid: str, owner: Any, exists: bool = True) -> None:
    """404 when the workflow does not exist or belongs to someone the caller may not see."""
    if not exists or not principal.may_see(owner if isinstance(owner, str) else None):
        raise HTTPException(404, f"workflow {wid!r} not found")
