"""Blueprints (both dialects) and dockerinfo → a validated graph of vertices.

A vertex is one `(container, operation)` pair; every `connected_to` entry of an
operation is an edge from that vertex to the named one. Two dialects are
accepted exactly as exported:

* AI-Effect `pipeline-topology/v2` (`type`, `pipeline_id`, stream flags, ...)
* Acumos / AI4EU (`input_ports`, `probeIndicator`, `training_clients`,
  `data_broker_map`, integer or string ports, extra dockerinfo entries)

Unknown fields are ignored. Nodes whose `node_type` names a shared folder are
data-plane only: they get no vertex, and edges through them are bridged (an
edge A → folder → B makes B depend on A).

Every rejection is a `BlueprintError` whose message names the culprit; the API
answers it with a 422. Parsing is linear in the size of the blueprint (sets and
dicts, one pass per stage), so a 10,000-node fan costs about what a chain does.
Container and operation names follow `orchestrator.ids.NAME_PATTERN`; dockerinfo
hosts are bare host names or IP addresses (optionally `http(s)://host:port`),
checked against the egress policy when one is given.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from orchestrator.ids import NAME_PATTERN, valid_name
from taskservice.netpolicy import HostPolicy, PolicyRefused, valid_host_name


class BlueprintError(ValueError):
    """A blueprint or dockerinfo that cannot be run; `field` names where."""

    def __init__(self, message: str, field: str = "blueprint", **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "field": self.field, **self.extra}


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass
class Vertex:
    index: int
    container: str
    operation: str
    node_type: str = ""
    image: str = ""
    endpoint: Endpoint | None = None
    parents: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.container}.{self.operation}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "container": self.container, "operation": self.operation,
            "node_type": self.node_type, "image": self.image,
            "host": self.endpoint.host if self.endpoint else None,
            "port": self.endpoint.port if self.endpoint else None,
            "scheme": self.endpoint.scheme if self.endpoint else "http",
            "parents": self.parents, "children": self.children,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vertex:
        endpoint = Endpoint(d["host"], d["port"], d.get("scheme", "http")) if d.get("host") else None
        return cls(index=d["index"], container=d["container"], operation=d["operation"],
                   node_type=d.get("node_type", ""), image=d.get("image", ""), endpoint=endpoint,
                   parents=list(d["parents"]), children=list(d["children"]))


@dataclass
class Graph:
    """The runnable graph: vertices in blueprint order, edges as parent/child indexes."""

    name: str
    vertices: list[Vertex]
    dialect: str = "pipeline-topology/v2"
    skipped: list[str] = field(default_factory=list)  # shared-folder containers

    @property
    def roots(self) -> list[int]:
        return [v.index for v in self.vertices if not v.parents]

    def by_name(self, name: str) -> Vertex | None:
        names = self.__dict__.get("_names")
        if names is None:
            names = self.__dict__["_names"] = {v.name: v for v in self.vertices}
        return names.get(name)

    def to_dict(self) -> dict[str, Any]:
        """What the workflow's stored spec holds (`Vertex.to_dict` per vertex, inlined: 10,000 of them)."""
        out = []
        for v in self.vertices:
            ep = v.endpoint
            out.append({"index": v.index, "container": v.container, "operation": v.operation,
                        "node_type": v.node_type, "image": v.image,
                        "host": ep.host if ep else None, "port": ep.port if ep else None,
                        "scheme": ep.scheme if ep else "http", "parents": v.parents, "children": v.children})
        return {"name": self.name, "dialect": self.dialect, "skipped": self.skipped, "vertices": out}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Graph:
        """The inverse of `to_dict`; the vertices of one service share one `Endpoint`."""
        endpoints: dict[tuple[str, int, str], Endpoint] = {}
        vertices = []
        for v in d["vertices"]:
            ep = None
            if v.get("host"):
                key = (v["host"], v["port"], v.get("scheme", "http"))
                ep = endpoints.get(key)
                if ep is None:
                    ep = endpoints[key] = Endpoint(*key)
            vertices.append(Vertex(v["index"], v["container"], v["operation"], v.get("node_type", ""),
                                   v.get("image", ""), ep, list(v["parents"]), list(v["children"])))
        return cls(name=d["name"], dialect=d.get("dialect", ""), skipped=list(d.get("skipped", [])),
                   vertices=vertices)


_SHARED_FOLDER = re.compile(r"^shared[\s_-]*folder$", re.IGNORECASE)


def is_shared_folder(node_type: Any) -> bool:
    return isinstance(node_type, str) and bool(_SHARED_FOLDER.match(node_type.strip()))


def _nonempty_str(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BlueprintError(f"{what} must be a non-empty string", field=where)
    return value.strip()


def _name(value: Any, what: str, where: str) -> str:
    """A container or operation name: `orchestrator.ids.NAME_PATTERN`."""
    name = _nonempty_str(value, what, where)
    if not valid_name(name):
        raise BlueprintError(f"{what} {name[:140]!r} is not a valid name (ASCII letters, digits, '_', '.', '-'; "
                             "starting with a letter or digit; at most 128 characters)", field=where)
    return name


_URL_HOST = re.compile(r"^(https?)://([^/:\[\]@?#\s]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?/?$")


@lru_cache(maxsize=1024)
def _valid_host(host: str) -> bool:
    return valid_host_name(host)


def _parse_host(raw: Any, name: str, where: str) -> tuple[str, str, str | None]:
    """(scheme, host, port from the URL) of a dockerinfo `ip_address`: a bare host name or IP address,
    or `http(s)://host[:port]` with nothing after; anything else (paths, other schemes, spaces,
    control characters) is refused."""
    field_name = f"{where}.ip_address"
    host = _nonempty_str(raw, f"ip_address of {name!r}", field_name)
    scheme, port = "http", None
    m = _URL_HOST.match(host)
    if m:
        scheme, host, port = m.group(1), m.group(2).strip("[]"), m.group(3)
    if not (host.isascii() and _valid_host(host)):
        raise BlueprintError(f"ip_address {str(raw)[:140]!r} of container {name!r} is not a host name or IP address "
                             "(optionally http(s)://host:port, without path)", field=field_name, container=name)
    return scheme, host, port


def parse_dockerinfo(dockerinfo: Any, policy: HostPolicy | None = None) -> dict[str, Endpoint]:
    """`{"docker_info_list": [{container_name, ip_address, port}]}` → endpoints by container.

    With `policy`, every host is checked as written (no DNS; names are checked again after
    resolution at connect time) and a refused one is an error naming its entry. Thousands of
    entries usually name a few services: each distinct (ip_address, port) is parsed and checked once."""
    if isinstance(dockerinfo, list):
        entries = dockerinfo
    elif isinstance(dockerinfo, dict):
        entries = dockerinfo.get("docker_info_list")
        if not isinstance(entries, list):
            raise BlueprintError("dockerinfo.docker_info_list must be a list", field="dockerinfo")
    else:
        raise BlueprintError("dockerinfo must be an object with docker_info_list", field="dockerinfo")
    endpoints: dict[str, Endpoint] = {}
    parsed: dict[tuple[str, type, Any], Endpoint] = {}  # (ip_address, type of port, port) → endpoint
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            where = f"dockerinfo.docker_info_list[{i}]"
            raise BlueprintError(f"{where} must be an object", field=where)
        name = entry.get("container_name")
        if not (type(name) is str and _NAME_MATCH(name)):
            name = _name(name, "container_name", f"dockerinfo.docker_info_list[{i}].container_name")
        raw_host = entry.get("ip_address", entry.get("host"))
        raw_port = entry.get("port", _NO_PORT)
        # the port's type is part of the key: True == 1 and 8080.0 == 8080, but only 1 and 8080 are ports
        key = (raw_host, type(raw_port), raw_port) if type(raw_host) is str and type(raw_port) in _PORT_TYPES \
            else None
        ep = parsed.get(key) if key is not None else None
        if ep is None:
            ep = _endpoint(raw_host, raw_port, name, f"dockerinfo.docker_info_list[{i}]", policy)
            if key is not None:
                parsed[key] = ep
        known = endpoints.get(name)
        if known is not None and known != ep:
            where = f"dockerinfo.docker_info_list[{i}]"
            raise BlueprintError(f"duplicate dockerinfo entries for container {name!r}",
                                 field=where, container=name)
        endpoints[name] = ep
    return endpoints


_NO_PORT = object()  # a dockerinfo entry without `port` (the URL's port, if any, is taken)
_PORT_TYPES = frozenset({str, int, float, bool, type(None), object})


def _endpoint(raw_host: Any, raw_port: Any, name: str, where: str, policy: HostPolicy | None) -> Endpoint:
    """One dockerinfo entry's endpoint, checked against `policy`."""
    scheme, host, url_port = _parse_host(raw_host, name, where)
    port = _parse_port(url_port if raw_port is _NO_PORT else raw_port, name, where)
    if policy is not None:
        try:
            policy.check_host(host, port)
        except PolicyRefused as exc:
            raise BlueprintError(f"container {name!r}: {exc} (ORCHESTRATOR_ALLOWED_SERVICES)",
                                 field=where, container=name) from None
    return Endpoint(host, port, scheme)


def _parse_port(value: Any, name: str, where: str) -> int:
    port: int | None = None
    if isinstance(value, bool):
        port = None
    elif isinstance(value, int):
        port = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 12:
        port = int(value.strip())
    if port is None or not 1 <= port <= 65535:
        raise BlueprintError(f"bad port {str(value)[:40]!r} for container {name!r} (need an integer 1-65535)",
                             field=f"{where}.port", container=name)
    return port


@lru_cache(maxsize=256)
def _folder_type(node_type: str) -> bool:
    return is_shared_folder(node_type)


_NAME_MATCH = re.compile(NAME_PATTERN).fullmatch  # `ids.valid_name` of a str, without a call per name


def _sig_where(i: int, j: int) -> str:
    return f"blueprint.nodes[{i}].operation_signature_list[{j}]"


def parse_blueprint(blueprint: Any, dockerinfo: Any | None = None, *, require_endpoints: bool = True,
                    policy: HostPolicy | None = None, max_nodes: int | None = None) -> Graph:
    """Parse and validate; with `dockerinfo`, every executed node needs an endpoint (allowed by
    `policy`, when given); more than `max_nodes` vertices is an error.

    One pass over the nodes, one over the edges, dicts and lists indexed by vertex; the strings
    that name a culprit (`blueprint.nodes[i]...`) are only built for an error."""
    if not isinstance(blueprint, dict):
        raise BlueprintError("blueprint must be a JSON object")
    nodes = blueprint.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise BlueprintError("empty graph: blueprint.nodes must be a non-empty list", field="blueprint.nodes")
    if max_nodes is not None and len(nodes) > max_nodes:
        raise BlueprintError(f"blueprint has {len(nodes)} nodes, more than the limit of {max_nodes} "
                             "(ORCHESTRATOR_MAX_NODES)", field="blueprint.nodes", limit=max_nodes)
    dialect = blueprint.get("type") or ("acumos" if ("input_ports" in blueprint or "probeIndicator" in blueprint)
                                        else "pipeline-topology/v2")
    name = blueprint.get("name") if isinstance(blueprint.get("name"), str) else ""

    # 1. containers, their operations, and the vertices: every operation of a container that is not
    #    a shared folder, in blueprint order
    ops: dict[str, dict[str, int]] = {}    # container -> its operations (in order) -> vertex index
    index: dict[str, dict[str, int]] = {}  # the same, for the containers that are not shared folders
    kinds: dict[str, tuple[str, str]] = {}  # container -> (node_type, image)
    skipped: list[str] = []
    wired: list[tuple[str, str, list[Any], int, int]] = []  # (container, operation, connected_to, i, j)
    count = 0
    for i, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise BlueprintError(f"blueprint.nodes[{i}] must be an object", field=f"blueprint.nodes[{i}]")
        cname = node.get("container_name")
        if not (type(cname) is str and _NAME_MATCH(cname)):
            cname = _name(cname, "container_name", f"blueprint.nodes[{i}].container_name")
        if cname in ops:
            raise BlueprintError(f"duplicate container name {cname!r}",
                                 field=f"blueprint.nodes[{i}].container_name", container=cname)
        node_type, image = node.get("node_type"), node.get("image")
        kind = kinds[cname] = (node_type if isinstance(node_type, str) else "",
                               image if isinstance(image, str) else "")
        sigs = node.get("operation_signature_list") or []
        if not isinstance(sigs, list):
            raise BlueprintError(f"blueprint.nodes[{i}].operation_signature_list must be a list",
                                 field=f"blueprint.nodes[{i}]", container=cname)
        own: dict[str, int] = {}
        for j, sig in enumerate(sigs):
            opsig = sig.get("operation_signature") if isinstance(sig, dict) else None
            if not isinstance(opsig, dict):
                raise BlueprintError(f"{_sig_where(i, j)}.operation_signature missing in container {cname!r}",
                                     field=_sig_where(i, j), container=cname)
            op = opsig.get("operation_name")
            if not (type(op) is str and _NAME_MATCH(op)):
                op = _name(op, f"operation_name in container {cname!r}",
                           f"{_sig_where(i, j)}.operation_signature.operation_name")
            if op in own:
                raise BlueprintError(f"duplicate operation {op!r} in container {cname!r}", field=_sig_where(i, j),
                                     container=cname)
            own[op] = count + len(own)
            targets = sig.get("connected_to") or []
            if not isinstance(targets, list):
                raise BlueprintError(f"{_sig_where(i, j)}.connected_to must be a list", field=_sig_where(i, j),
                                     container=cname)
            if targets:
                wired.append((cname, op, targets, i, j))
        ops[cname] = own
        if _folder_type(kind[0]):
            skipped.append(cname)
        elif not own:
            raise BlueprintError(f"container {cname!r} has no operations", field=f"blueprint.nodes[{i}]",
                                 container=cname)
        else:
            index[cname] = own
            count += len(own)

    # 2. edges between vertices; those to or from a shared folder are bridged through it
    children: list[list[int]] = [[] for _ in range(count)]
    folder_out: dict[str, list[int | str]] = {}  # shared folder -> what it feeds (vertex, or another folder)
    into_folder: list[tuple[int, str]] = []      # (vertex, shared folder it feeds)
    for cname, op, targets, i, j in wired:
        own = index.get(cname)
        out = children[own[op]] if own is not None else folder_out.setdefault(cname, [])
        for k, target in enumerate(targets):
            if not isinstance(target, dict):
                where = f"{_sig_where(i, j)}.connected_to[{k}]"
                raise BlueprintError(f"{where} must be an object", field=where, container=cname)
            tname = target.get("container_name")
            t_ops = ops.get(tname) if isinstance(tname, str) else None
            if t_ops is None:
                raise BlueprintError(f"edge from {cname}.{op} to unknown container {tname!r}",
                                     field=f"{_sig_where(i, j)}.connected_to[{k}]", container=cname, operation=op,
                                     target=tname)
            tsig = target.get("operation_signature")
            top = tsig.get("operation_name") if isinstance(tsig, dict) else None
            if top is None:
                if len(t_ops) == 1:
                    top = next(iter(t_ops))
            elif not isinstance(top, str):
                raise BlueprintError(f"{_sig_where(i, j)}.connected_to[{k}].operation_signature.operation_name "
                                     "must be a string", field=f"{_sig_where(i, j)}.connected_to[{k}]",
                                     container=cname, operation=op)
            theirs = index.get(tname)
            ci = theirs.get(top) if theirs is not None and top is not None else None
            if ci is None and not (theirs is None and (not t_ops or top in t_ops)):
                raise BlueprintError(f"edge from {cname}.{op} to unknown operation {tname}.{top}",
                                     field=f"{_sig_where(i, j)}.connected_to[{k}]", container=cname, operation=op,
                                     target=f"{tname}.{top}")
            if ci is not None:
                out.append(ci)
            elif own is not None:
                into_folder.append((own[op], tname))
            else:
                out.append(tname)
    if not count:
        raise BlueprintError("empty graph: no executable operations", field="blueprint.nodes")

    bridged: dict[str, list[int]] = {}  # shared folder -> the vertices behind it

    def through(folder: str) -> list[int]:
        if folder not in bridged:
            found: list[int] = []
            seen, todo = {folder}, deque([folder])
            while todo:
                for b in folder_out.get(todo.popleft(), ()):
                    if type(b) is int:
                        found.append(b)
                    elif b not in seen:
                        seen.add(b)
                        todo.append(b)
            bridged[folder] = found
        return bridged[folder]

    for pi, folder in into_folder:
        children[pi].extend(through(folder))
    if max_nodes is not None and count > max_nodes:
        raise BlueprintError(f"blueprint has {count} operations, more than the limit of {max_nodes} "
                             "(ORCHESTRATOR_MAX_NODES)", field="blueprint.nodes", limit=max_nodes)
    parents: list[list[int]] = [[] for _ in range(count)]
    for pi in range(count):  # ascending, so every parent list comes out sorted
        ch = children[pi]
        if len(ch) > 1:
            ch = children[pi] = sorted(set(ch))
        for ci in ch:
            parents[ci].append(pi)

    vertices: list[Vertex] = []
    for cname, ops_of in index.items():
        node_type, image = kinds[cname]
        for op, vi in ops_of.items():
            vertices.append(Vertex(vi, cname, op, node_type, image, None, parents[vi], children[vi]))
    graph = Graph(name=name, vertices=vertices, dialect=str(dialect), skipped=skipped)
    if not _acyclic(children):
        _check_vertex_cycles(graph)
    if len(index) < count:  # with one operation per container, the container graph is the vertex graph
        _check_container_cycles(graph)
    _check_input_ports(blueprint, index)

    if dockerinfo is not None or require_endpoints:
        endpoints = parse_dockerinfo(dockerinfo if dockerinfo is not None else {"docker_info_list": []}, policy)
        missing = sorted(c for c in index if c not in endpoints)
        if missing:
            raise BlueprintError(f"no dockerinfo entry for node(s): {', '.join(missing)}",
                                 field="dockerinfo", containers=missing)
        for v in vertices:
            v.endpoint = endpoints[v.container]
    return graph


def _check_input_ports(blueprint: dict[str, Any], index: dict[str, dict[str, int]]) -> None:
    ports = blueprint.get("input_ports") or []
    if not isinstance(ports, list):
        raise BlueprintError("blueprint.input_ports must be a list", field="blueprint.input_ports")
    for i, port in enumerate(ports):
        where = f"blueprint.input_ports[{i}]"
        if not isinstance(port, dict):
            raise BlueprintError(f"{where} must be an object", field=where)
        c = port.get("container_name")
        sig = port.get("operation_signature")
        op = sig.get("operation_name") if isinstance(sig, dict) else None
        if not isinstance(c, str) or not (op is None or isinstance(op, str)):
            raise BlueprintError(f"{where} must name a container (and operation) by string", field=where)
        if c not in index or not (op is None or op in index[c]):
            raise BlueprintError(f"input port names unknown operation {c}.{op}", field=where)


def _acyclic(children: list[list[int]]) -> bool:
    """Whether the vertex graph has no cycle (Kahn: every vertex can be taken once its parents are)."""
    indegree = [0] * len(children)
    for ch in children:
        for c in ch:
            indegree[c] += 1
    ready = [i for i, d in enumerate(indegree) if not d]
    taken = 0
    while ready:
        taken += 1
        for c in children[ready.pop()]:
            indegree[c] -= 1
            if not indegree[c]:
                ready.append(c)
    return taken == len(children)


def _find_cycle(nodes: list[Any], succ: dict[Any, list[Any]]) -> list[Any] | None:
    """A cycle as a list of nodes (first repeated at the end), or None."""
    color: dict[Any, int] = {}
    for start in nodes:
        if color.get(start):
            continue
        stack: list[tuple[Any, int]] = [(start, 0)]
        path: list[Any] = [start]
        color[start] = 1
        while stack:
            node, i = stack[-1]
            nexts = succ.get(node, [])
            if i < len(nexts):
                stack[-1] = (node, i + 1)
                nxt = nexts[i]
                if color.get(nxt) == 1:
                    return path[path.index(nxt):] + [nxt]
                if not color.get(nxt):
                    color[nxt] = 1
                    stack.append((nxt, 0))
                    path.append(nxt)
            else:
                color[node] = 2
                stack.pop()
                path.pop()
    return None


def _check_vertex_cycles(graph: Graph) -> None:
    succ = {v.index: v.children for v in graph.vertices}
    cycle = _find_cycle([v.index for v in graph.vertices], succ)
    if cycle:
        names = [graph.vertices[i].name for i in cycle]
        raise BlueprintError(f"cycle: {' -> '.join(names)}", field="blueprint.nodes", cycle=names)


def _check_container_cycles(graph: Graph) -> None:
    """A loop between containers (A feeds B feeds A) is a feedback stream, not a DAG run.

    AI4EU's parallel orchestrator keeps such nodes open as concurrent gRPC
    streams; a workflow that runs each operation once cannot honour it, so it
    is rejected, naming the operations on the loop.
    """
    containers = list(dict.fromkeys(v.container for v in graph.vertices))
    succ: dict[str, list[str]] = {}
    via: dict[tuple[str, str], tuple[int, int]] = {}
    for v in graph.vertices:
        for c in v.children:
            w = graph.vertices[c]
            if w.container != v.container and (v.container, w.container) not in via:
                succ.setdefault(v.container, []).append(w.container)
                via[(v.container, w.container)] = (v.index, w.index)
    cycle = _find_cycle(containers, succ)
    if cycle:
        names: list[str] = []
        for a, b in zip(cycle, cycle[1:]):
            src, dst = via[(a, b)]
            for n in (graph.vertices[src].name, graph.vertices[dst].name):
                if not names or names[-1] != n:
                    names.append(n)
        raise BlueprintError(f"cycle between nodes {' -> '.join(cycle)}: {' -> '.join(names)}",
                             field="blueprint.nodes", cycle=names, containers=cycle)
