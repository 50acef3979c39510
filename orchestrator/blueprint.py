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
answers it with a 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


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
        for v in self.vertices:
            if v.name == name:
                return v
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dialect": self.dialect, "skipped": self.skipped,
                "vertices": [v.to_dict() for v in self.vertices]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Graph:
        return cls(name=d["name"], dialect=d.get("dialect", ""), skipped=list(d.get("skipped", [])),
                   vertices=[Vertex.from_dict(v) for v in d["vertices"]])


_SHARED_FOLDER = re.compile(r"^shared[\s_-]*folder$", re.IGNORECASE)


def is_shared_folder(node_type: Any) -> bool:
    return isinstance(node_type, str) and bool(_SHARED_FOLDER.match(node_type.strip()))


def _nonempty_str(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BlueprintError(f"{what} must be a non-empty string", field=where)
    return value.strip()


def parse_dockerinfo(dockerinfo: Any) -> dict[str, Endpoint]:
    """`{"docker_info_list": [{container_name, ip_address, port}]}` → endpoints by container."""
    if isinstance(dockerinfo, list):
        entries = dockerinfo
    elif isinstance(dockerinfo, dict):
        entries = dockerinfo.get("docker_info_list")
        if not isinstance(entries, list):
            raise BlueprintError("dockerinfo.docker_info_list must be a list", field="dockerinfo")
    else:
        raise BlueprintError("dockerinfo must be an object with docker_info_list", field="dockerinfo")
    endpoints: dict[str, Endpoint] = {}
    for i, entry in enumerate(entries):
        where = f"dockerinfo.docker_info_list[{i}]"
        if not isinstance(entry, dict):
            raise BlueprintError(f"{where} must be an object", field=where)
        name = _nonempty_str(entry.get("container_name"), f"{where}.container_name", where)
        raw_host = entry.get("ip_address", entry.get("host"))
        host = _nonempty_str(raw_host, f"ip_address of {name!r}", f"{where}.ip_address")
        scheme = "http"
        m = re.match(r"^(https?)://([^/:]+|\[[^\]]+\])(?::(\d+))?/?$", host)
        if m:
            scheme, host = m.group(1), m.group(2).strip("[]")
        port = _parse_port(entry.get("port", m.group(3) if m else None), name, where)
        ep = Endpoint(host, port, scheme)
        if name in endpoints and endpoints[name] != ep:
            raise BlueprintError(f"duplicate dockerinfo entries for container {name!r}",
                                 field=where, container=name)
        endpoints[name] = ep
    return endpoints


def _parse_port(value: Any, name: str, where: str) -> int:
    port: int | None = None
    if isinstance(value, bool):
        port = None
    elif isinstance(value, int):
        port = value
    elif isinstance(value, str) and value.strip().isdigit():
        port = int(value.strip())
    if port is None or not 1 <= port <= 65535:
        raise BlueprintError(f"bad port {value!r} for container {name!r} (need an integer 1-65535)",
                             field=f"{where}.port", container=name)
    return port


def parse_blueprint(blueprint: Any, dockerinfo: Any | None = None, *,
                    require_endpoints: bool = True) -> Graph:
    """Parse and validate; with `dockerinfo`, every executed node needs an endpoint."""
    if not isinstance(blueprint, dict):
        raise BlueprintError("blueprint must be a JSON object")
    nodes = blueprint.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise BlueprintError("empty graph: blueprint.nodes must be a non-empty list", field="blueprint.nodes")
    dialect = blueprint.get("type") or ("acumos" if ("input_ports" in blueprint or "probeIndicator" in blueprint)
                                        else "pipeline-topology/v2")
    name = blueprint.get("name") if isinstance(blueprint.get("name"), str) else ""

    # 1. containers and their operations
    ops: dict[str, list[str]] = {}
    node_info: dict[str, dict[str, Any]] = {}
    raw_edges: list[tuple[str, str, Any, str]] = []  # (container, operation, target, where)
    for i, node in enumerate(nodes):
        where = f"blueprint.nodes[{i}]"
        if not isinstance(node, dict):
            raise BlueprintError(f"{where} must be an object", field=where)
        cname = _nonempty_str(node.get("container_name"), f"{where}.container_name", where)
        if cname in ops:
            raise BlueprintError(f"duplicate container name {cname!r}", field=f"{where}.container_name",
                                 container=cname)
        node_info[cname] = {"node_type": node.get("node_type") or "", "image": node.get("image") or ""}
        sigs = node.get("operation_signature_list") or []
        if not isinstance(sigs, list):
            raise BlueprintError(f"{where}.operation_signature_list must be a list", field=where, container=cname)
        names: list[str] = []
        for j, sig in enumerate(sigs):
            swhere = f"{where}.operation_signature_list[{j}]"
            opsig = sig.get("operation_signature") if isinstance(sig, dict) else None
            if not isinstance(opsig, dict):
                raise BlueprintError(f"{swhere}.operation_signature missing in container {cname!r}",
                                     field=swhere, container=cname)
            op = _nonempty_str(opsig.get("operation_name"), f"operation_name in container {cname!r}",
                               f"{swhere}.operation_signature.operation_name")
            if op in names:
                raise BlueprintError(f"duplicate operation {op!r} in container {cname!r}", field=swhere,
                                     container=cname)
            names.append(op)
            targets = sig.get("connected_to") or []
            if not isinstance(targets, list):
                raise BlueprintError(f"{swhere}.connected_to must be a list", field=swhere, container=cname)
            for k, target in enumerate(targets):
                raw_edges.append((cname, op, target, f"{swhere}.connected_to[{k}]"))
        if not names and not is_shared_folder(node_info[cname]["node_type"]):
            raise BlueprintError(f"container {cname!r} has no operations", field=where, container=cname)
        ops[cname] = names

    # 2. edges between (container, operation) pairs
    edges: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for cname, op, target, where in raw_edges:
        if not isinstance(target, dict):
            raise BlueprintError(f"{where} must be an object", field=where, container=cname)
        tname = target.get("container_name")
        if not isinstance(tname, str) or tname not in ops:
            raise BlueprintError(f"edge from {cname}.{op} to unknown container {tname!r}", field=where,
                                 container=cname, operation=op, target=tname)
        tsig = target.get("operation_signature")
        top = tsig.get("operation_name") if isinstance(tsig, dict) else None
        if top is None and len(ops[tname]) == 1:
            top = ops[tname][0]
        if top not in ops[tname] and not (is_shared_folder(node_info[tname]["node_type"]) and not ops[tname]):
            raise BlueprintError(f"edge from {cname}.{op} to unknown operation {tname}.{top}", field=where,
                                 container=cname, operation=op, target=f"{tname}.{top}")
        edges.append(((cname, op), (tname, top or "")))

    # 3. vertices (shared folders excluded), with edges bridged through folders
    skipped = [c for c in ops if is_shared_folder(node_info[c]["node_type"])]
    vertices: list[Vertex] = []
    index: dict[tuple[str, str], int] = {}
    for cname, names in ops.items():
        if cname in skipped:
            continue
        for op in names:
            index[(cname, op)] = len(vertices)
            vertices.append(Vertex(len(vertices), cname, op, **node_info[cname]))
    if not vertices:
        raise BlueprintError("empty graph: no executable operations", field="blueprint.nodes")

    succ: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    folder_targets: dict[str, list[tuple[str, str]]] = {}

    def through(target: tuple[str, str], seen: frozenset[str]) -> list[tuple[str, str]]:
        if target[0] not in skipped:
            return [target]
        if target[0] in seen:
            return []
        out: list[tuple[str, str]] = []
        for (c, o), bs in succ.items():
            if c == target[0]:
                for b in bs:
                    out.extend(through(b, seen | {target[0]}))
        return out

    for a, bs in succ.items():
        if a[0] in skipped or a not in index:
            continue
        for b in bs:
            for real in through(b, frozenset()):
                if real in index:
                    pi, ci = index[a], index[real]
                    if ci not in vertices[pi].children:
                        vertices[pi].children.append(ci)
                        vertices[ci].parents.append(pi)
    del folder_targets
    for v in vertices:
        v.parents.sort()
        v.children.sort()

    graph = Graph(name=name, vertices=vertices, dialect=str(dialect), skipped=skipped)
    _check_vertex_cycles(graph)
    _check_container_cycles(graph)
    _check_input_ports(blueprint, index)

    if dockerinfo is not None or require_endpoints:
        endpoints = parse_dockerinfo(dockerinfo if dockerinfo is not None else {"docker_info_list": []})
        missing = sorted({v.container for v in vertices if v.container not in endpoints})
        if missing:
            raise BlueprintError(f"no dockerinfo entry for node(s): {', '.join(missing)}",
                                 field="dockerinfo", containers=missing)
        for v in vertices:
            v.endpoint = endpoints[v.container]
    return graph


def _check_input_ports(blueprint: dict[str, Any], index: dict[tuple[str, str], int]) -> None:
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
        if not any(k[0] == c and (op is None or k[1] == op) for k in index):
            raise BlueprintError(f"input port names unknown operation {c}.{op}", field=where)


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
            if w.container != v.container:
                succ.setdefault(v.container, [])
                if w.container not in succ[v.container]:
                    succ[v.container].append(w.container)
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
