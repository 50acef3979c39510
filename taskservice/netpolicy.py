"""Which hosts a process may connect to: host names, wildcard patterns and CIDR ranges.

Used for everything an untrusted request can make a process call: node
services named in a dockerinfo (`ORCHESTRATOR_ALLOWED_SERVICES`), `http(s)`
inputs and callback URLs of a template service (`SERVICE_ALLOWED_HOSTS`).

A policy is a comma-separated list of rules:

* `10.0.0.0/8`, `fd00::/8`, `192.168.1.7` — addresses (CIDR or single);
* `lab-pc`, `*.lab.example` — host names, exact or with a leading `*.`
  wildcard (matched case-insensitively, without resolving).

The default (unset or empty) allows `localhost`, loopback and the private
ranges, nothing else. A host is allowed when its name matches a name rule or
every address it resolves to lies in an address rule. Link-local addresses
(cloud metadata at 169.254.169.254, fe80::/10) and unspecified ones are refused
unless an address rule names them explicitly, even for hosts allowed by name:
a name that resolves there is not trusted. Endpoints can be denied on top
(`deny`), e.g. the orchestrator's own Redis: they are refused unless a rule
names that host exactly.

Check names at submission (`check_host`, no DNS) and addresses at connect
time after resolution (`check_address`), then connect to the checked address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_RULES = ("localhost", "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                 "fc00::/7")
_NEVER_BY_DEFAULT = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "0.0.0.0/32",
                                                          "::/128"))


class PolicyRefused(ValueError):
    """A host or address the policy does not allow; the message names the rule that refused."""


def _as_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class HostPolicy:
    """An allow-list of hosts; build it with `HostPolicy.parse(spec)`."""

    networks: tuple[IPNetwork, ...]
    names: tuple[str, ...]  # exact names, lower case
    wildcards: tuple[str, ...]  # suffixes such as ".lab.example"
    default: bool = True
    denied: frozenset[tuple[str, int]] = field(default_factory=frozenset)  # (address or name, port)
    exact: frozenset[str] = field(default_factory=frozenset)  # rules as written, lower case

    @classmethod
    def parse(cls, spec: str | Iterable[str] | None) -> HostPolicy:
        """Parse a comma-separated rule list; None or empty gives the default policy."""
        items = spec.split(",") if isinstance(spec, str) else list(spec or ())
        rules = [r.strip() for r in items if r and r.strip()]
        default = not rules
        if default:
            rules = list(DEFAULT_RULES)
        networks: list[IPNetwork] = []
        names: list[str] = []
        wildcards: list[str] = []
        for rule in rules:
            if "/" in rule or _as_address(rule) is not None:
                try:
                    networks.append(ipaddress.ip_network(rule.strip("[]"), strict=False))
                except ValueError:
                    raise ValueError(f"not a CIDR range or address: {rule!r}") from None
            elif rule.startswith("*."):
                wildcards.append(rule[1:].lower().rstrip("."))
            elif rule == "*":
                raise ValueError("'*' would allow every host; list the hosts or ranges instead")
            elif _valid_name(rule):
                names.append(rule.lower().rstrip("."))
            else:
                raise ValueError(f"not a host name, wildcard or CIDR range: {rule!r}")
        return cls(tuple(networks), tuple(names), tuple(wildcards), default,
                   exact=frozenset() if default else frozenset(r.lower().strip("[]") for r in rules))

    def deny(self, endpoints: Iterable[tuple[str, int]]) -> HostPolicy:
        """The same policy, also refusing these (host, port) endpoints unless a rule names the host."""
        return HostPolicy(self.networks, self.names, self.wildcards, self.default,
                          self.denied | frozenset((h.lower().strip("[]"), int(p)) for h, p in endpoints),
                          self.exact)

    def describe(self) -> str:
        return "default (localhost, loopback and private ranges)" if self.default else "configured"

    # -- checks ---------------------------------------------------------------------------

    def name_allowed(self, host: str) -> bool:
        h = host.lower().rstrip(".")
        return h in self.names or any(h.endswith(w) for w in self.wildcards)

    def check_host(self, host: str, port: int | None = None) -> None:
        """Check a host as written (no DNS): a literal address against the address rules, a name against
        the name rules. A name no name rule matches is left to `check_address` after resolution."""
        self._check_denied(host, port)
        addr = _as_address(host)
        if addr is not None:
            self._check_ip(addr, host)

    def check_address(self, host: str, address: str, port: int | None = None) -> None:
        """Check one address `host` resolved to (connect time)."""
        self._check_denied(host, port)
        self._check_denied(address, port, named=host)
        ip = _as_address(address)
        if ip is None:
            raise PolicyRefused(f"{address!r} is not an IP address")
        if self.name_allowed(host) and not self._never(ip):
            return
        self._check_ip(ip, host)

    def allows(self, host: str, address: str | None = None, port: int | None = None) -> bool:
        try:
            if address is None:
                self.check_host(host, port)
            else:
                self.check_address(host, address, port)
        except PolicyRefused:
            return False
        return True

    def resolve(self, host: str, port: int) -> list[str]:
        """Resolve `host` and check every address; returns them (connect to one of these)."""
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise PolicyRefused(f"cannot resolve {host!r}: {exc}") from None
        return self._check_infos(host, port, infos)

    async def aresolve(self, host: str, port: int) -> list[str]:
        """`resolve` without blocking the event loop."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise PolicyRefused(f"cannot resolve {host!r}: {exc}") from None
        return self._check_infos(host, port, infos)

    # -- internals ------------------------------------------------------------------------------

    def _check_infos(self, host: str, port: int, infos: list) -> list[str]:
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:  # every address: a name must not smuggle in a refused one
            self.check_address(host, address, port)
        return addresses

    def _never(self, ip: IPAddress) -> bool:
        return any(ip in n for n in _NEVER_BY_DEFAULT) and not any(
            ip in n and n.prefixlen >= _specific_prefix(n, ip) for n in self.networks)

    def _check_ip(self, ip: IPAddress, host: str) -> None:
        if self._never(ip):
            raise PolicyRefused(f"{host!r} ({ip}) is link-local or unspecified; refused unless an address "
                                "rule names it explicitly")
        if not any(ip in n for n in self.networks):
            raise PolicyRefused(f"{host!r} ({ip}) is not in the allowed hosts ({self._rules_text()})")

    def _check_denied(self, host: str, port: int | None, named: str | None = None) -> None:
        if port is None or not self.denied:
            return
        h = host.lower().strip("[]")
        if (h, int(port)) in self.denied and h not in self.exact and (named or "").lower() not in self.exact:
            raise PolicyRefused(f"{host}:{port} is the orchestrator's own endpoint; refused unless listed "
                                "explicitly")

    def _rules_text(self) -> str:
        if self.default:
            return "default: localhost, loopback and private ranges"
        return ", ".join([*map(str, self.networks), *self.names, *("*" + w for w in self.wildcards)])


def _specific_prefix(net: IPNetwork, ip: IPAddress) -> int:
    """An address rule names a link-local address explicitly when it is inside that range itself."""
    for never in _NEVER_BY_DEFAULT:
        if ip in never and never.version == net.version:
            return never.prefixlen
    return net.max_prefixlen


_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-.")


def _valid_name(name: str) -> bool:
    n = name.lower().rstrip(".")
    return bool(n) and len(n) <= 253 and set(n) <= _NAME_CHARS and all(
        0 < len(label) <= 63 and not label.startswith("-") and not label.endswith("-") for label in n.split("."))


def valid_host_name(host: str) -> bool:
    """A DNS name or a literal IP address (what a dockerinfo host or URL host may be)."""
    return _as_address(host) is not None or _valid_name(host)
