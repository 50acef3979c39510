"""Parsed workflow graphs kept per API process, so reading a big workflow does not re-parse its spec.

A workflow's graph never changes for a given run, so it is cached by
`(workflow id, run)`: a workflow deleted and submitted again under the same id
gets a new run and so a fresh entry. Reads of the workflow hash leave the
(large) `spec` field out unless the graph is not cached yet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import orjson

from orchestrator.blueprint import Graph
from orchestrator.store import Store

WF_FIELDS = ("workflow_id", "run", "status", "name", "user", "created_at", "started_at", "finished_at",
             "updated_at", "error", "failed_node", "total", "done")


class GraphCache:
    """At most `size` parsed graphs, least recently used dropped first."""

    def __init__(self, store: Store, size: int = 32) -> None:
        self.store = store
        self.size = size
        self._graphs: OrderedDict[tuple[str, str], Graph] = OrderedDict()
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def workflow(self, wid: str) -> dict[str, Any] | None:
        """The workflow hash without `spec` and secrets, or None."""
        row = self.store.r.hmget(self.store.wf_key(wid), *WF_FIELDS)
        if row[0] is None or row[1] is None:
            return None
        return {k: v for k, v in zip(WF_FIELDS, row) if v is not None}

    def load(self, wid: str) -> tuple[dict[str, Any], Graph] | None:
        """(workflow hash without spec, graph), or None when the workflow does not exist."""
        wf = self.workflow(wid)
        if wf is None:
            return None
        key = (wid, wf["run"])
        with self._lock:
            graph = self._graphs.get(key)
            if graph is not None:
                self._graphs.move_to_end(key)
                return wf, graph
        raw = self.store.r.hget(self.store.wf_key(wid), "spec")
        if raw is None:
            return None
        graph = Graph.from_dict(orjson.loads(raw)["graph"])
        with self._lock:
            self._graphs[key] = graph
            while len(self._graphs) > self.size:
                self._graphs.popitem(last=False)
        return wf, graph

    def put(self, wid: str, run: str, graph: Graph) -> None:
        """Keep the graph of a workflow just submitted (its first reads need not parse its spec)."""
        with self._lock:
            self._graphs[(wid, run)] = graph
            self._graphs.move_to_end((wid, run))
            while len(self._graphs) > self.size:
                self._graphs.popitem(last=False)
