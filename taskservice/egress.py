"""Outgoing HTTP to hosts named by untrusted requests (inputs, callbacks), through a HostPolicy.

The host is resolved once, every address it resolves to is checked against
the policy, and the request goes to a checked address (with the original
`Host` header and TLS server name), so a name cannot re-resolve elsewhere
between the check and the connection. Redirects are not followed.
"""

from __future__ import annotations

from typing import Any

import httpx

from .netpolicy import HostPolicy, PolicyRefused, valid_host_name

DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchError(ValueError):
    """An allowed host answered with something that cannot be used (status, size)."""


def parse_url(url: str) -> httpx.URL:
    """An http(s) URL with a valid host, or PolicyRefused saying what is wrong with it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise PolicyRefused("not a valid URL") from None
    if parsed.scheme not in DEFAULT_PORTS:
        raise PolicyRefused(f"scheme {parsed.scheme!r} is not allowed (http or https only)")
    if not parsed.host or not valid_host_name(parsed.host):
        raise PolicyRefused("the URL has no valid host name or address")
    return parsed


def check_url(url: str, policy: HostPolicy) -> httpx.URL:
    """Check a URL as written (no DNS): scheme, host syntax, literal addresses and denied endpoints."""
    parsed = parse_url(url)
    policy.check_host(parsed.host, parsed.port or DEFAULT_PORTS[parsed.scheme])
    return parsed


def redact(url: str) -> str:
    """The URL without user info or query (what may be shown in records and logs)."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def pinned(url: str, policy: HostPolicy) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """Resolve and check `url`'s host; the URL to a checked address, the Host header and TLS extensions."""
    parsed = check_url(url, policy)
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    address = policy.resolve(parsed.host, port)[0]
    target = parsed.copy_with(host=address)
    host_header = parsed.netloc.decode("ascii").rpartition("@")[2]
    extensions: dict[str, Any] = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    return target, {"Host": host_header}, extensions


def request(client: httpx.Client, method: str, url: str, policy: HostPolicy, **kwargs: Any) -> httpx.Response:
    """`client.request` to a policy-checked address of `url`'s host (PolicyRefused if refused)."""
    target, host, extensions = pinned(url, policy)
    headers = {**(kwargs.pop("headers", None) or {}), **host}
    if target.userinfo:  # credentials in the URL: Basic auth, unless an Authorization header is given
        if not any(k.lower() == "authorization" for k in headers):
            kwargs["auth"] = (target.username, target.password)
        target = target.copy_with(userinfo=b"")
    return client.request(method, target, headers=headers, extensions=extensions, follow_redirects=False,
                          **kwargs)


def fetch(url: str, policy: HostPolicy, max_bytes: int, timeout: float = 60.0) -> bytes:
    """GET `url` through the policy, refusing answers over `max_bytes` without reading them whole."""
    target, host, extensions = pinned(url, policy)
    with httpx.Client(timeout=timeout) as client, client.stream(
            "GET", target, headers=host, extensions=extensions, follow_redirects=False) as response:
        if response.status_code >= 300:
            raise FetchError(f"answered HTTP {response.status_code}" +
                                (" (redirects are not followed)" if response.is_redirect else ""))
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"is larger than {max_bytes} bytes (SERVICE_MAX_INPUT_BYTES)")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"is larger than {max_bytes} bytes (SERVICE_MAX_INPUT_BYTES)")
            chunks.append(chunk)
        return b"".join(chunks)
