"""Several hosts on one machine: Linux network namespaces joined by veth pairs on a bridge.

`Hosts` makes a hub namespace (Redis, the services and the API live there) with a bridge,
one namespace per worker host plugged into it, and a veth pair from the test's own
namespace to the hub so the test can reach the API. Addresses are private (10.231.0.0/24
on the bridge, 10.231.1.0/30 to the test). `partition(host)` takes a worker host's link
down, `heal(host)` brings it back. Everything goes away with the namespaces.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def why_not() -> str | None:
    """None when namespaces can be made here, else the reason."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"probe{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as exc:
        err = getattr(exc, "stderr", b"") or b""
        return f"cannot create a network namespace: {err.decode(errors='replace').strip() or exc}"
    try:
        _ip("netns", "exec", probe, "ip", "link", "add", "br0", "type", "bridge")
    except subprocess.CalledProcessError as exc:
        return f"cannot create a bridge: {exc.stderr.decode(errors='replace').strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Hosts:
    HUB_ADDR = "10.231.0.1"
    TEST_SIDE = "10.231.1.1"
    HUB_SIDE = "10.231.1.2"

    def __init__(self, workers: int) -> None:
        tag = uuid.uuid4().hex[:5]
        self.hub = f"oh{tag}"
        self.hosts = [f"ow{tag}{i}" for i in range(workers)]
        self._links: dict[str, str] = {}
        self._test_link = f"ot{tag}"
        try:
            self._make(tag)
        except BaseException:
            self.close()
            raise

    def _make(self, tag: str) -> None:
        hub = self.hub
        _ip("netns", "add", hub)
        _ip("-n", hub, "link", "set", "lo", "up")
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "addr", "add", f"{self.HUB_ADDR}/24", "dev", "br0")
        _ip("-n", hub, "link", "set", "br0", "up")
        for i, ns in enumerate(self.hosts):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            outer, inner = f"oh{tag}{i}", f"eth{i}"
            _ip("link", "add", outer, "netns", hub, "type", "veth", "peer", "name", inner, "netns", ns)
            _ip("-n", hub, "link", "set", outer, "master", "br0")
            _ip("-n", hub, "link", "set", outer, "up")
            _ip("-n", ns, "addr", "add", f"{self.addr(i)}/24", "dev", inner)
            _ip("-n", ns, "link", "set", inner, "up")
            self._links[ns] = outer
        # the test reaches the hub (the API) over one more pair, not through the bridge
        _ip("link", "add", self._test_link, "type", "veth", "peer", "name", "uplink", "netns", hub)
        _ip("addr", "add", f"{self.TEST_SIDE}/30", "dev", self._test_link)
        _ip("link", "set", self._test_link, "up")
        _ip("-n", hub, "addr", "add", f"{self.HUB_SIDE}/30", "dev", "uplink")
        _ip("-n", hub, "link", "set", "uplink", "up")

    @staticmethod
    def addr(i: int) -> str:
        return f"10.231.0.{11 + i}"

    def run_in(self, ns: str) -> list[str]:
        """The command prefix that runs a process inside namespace `ns`."""
        return ["ip", "netns", "exec", ns]

    def partition(self, i: int) -> None:
        _ip("-n", self.hub, "link", "set", self._links[self.hosts[i]], "down")

    def heal(self, i: int) -> None:
        _ip("-n", self.hub, "link", "set", self._links[self.hosts[i]], "up")

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self._test_link], capture_output=True)
        for ns in [*self.hosts, self.hub]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
