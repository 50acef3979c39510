"""`POST /workflows`: parse and check the blueprint, store the workflow, queue its root nodes.

Linear in the blueprint's size: a 10,000-node workflow is parsed once (`blueprint`), its spec
written once by orjson and stored by one script (`Store.create`), and its parsed graph handed
to the API's `GraphCache`, so the first reads of the new workflow do not parse it again. The
garbage collector is paused meanwhile (`gcpause`): its passes over the request's objects
cost more than the rest.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi import HTTPException

from orchestrator.blueprint import BlueprintError, Graph, parse_blueprint
from orchestrator.connections import ReplicaAck, redis_client
from orchestrator.gcpause import paused_gc
from orchestrator.graphs import GraphCache
from orchestrator.jobs import Jobs
from orchestrator.observe import api_event
from orchestrator.schemas import SubmitRequest, SubmitResponse
from orchestrator.settings import Settings
from orchestrator.store import Store
from taskservice.apikeys import Principal
from taskservice.models import TaskStatus
from taskservice.netpolicy import HostPolicy


# A blueprint of at most INLINE_NODES nodes is stored on the API's event loop: about a millisecond,
# less than the hand-over to a thread costs. A bigger one (a 10,000-node fan takes half a second)
# goes to `submit_threads`, and so does every submission while Redis may block: replicas to WAIT
# for, or a Redis error in the last TROUBLE_SECONDS. The inline ones use clients that give up
# after INLINE_TIMEOUT without retrying (`inline_parts`): a paused Redis holds the event loop that
# long at most, once per TROUBLE_SECONDS, and the submission answers 503.
INLINE_NODES = 64
INLINE_TIMEOUT = 1.0
TROUBLE_SECONDS = 30.0
submit_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="submit")
_trouble_until = 0.0


def inline_submission(body: SubmitRequest, replica_ack: ReplicaAck) -> bool:
    """Whether `body` is stored without leaving the event loop (see INLINE_NODES)."""
    nodes = body.blueprint.get("nodes")
    return (isinstance(nodes, list) and len(nodes) <= INLINE_NODES and time.monotonic() >= _trouble_until
            and replica_ack.known_without_replicas())


def inline_parts(settings: Settings) -> tuple[Store, Jobs]:
    """The store and jobs of inline submissions: their own clients, with INLINE_TIMEOUT."""
    store = Store(redis_client(settings, read_timeout=INLINE_TIMEOUT), settings.prefix)
    return store, Jobs(store, redis_client(settings, decode_responses=False, read_timeout=INLINE_TIMEOUT), settings)


def redis_trouble() -> None:
    """A submission met a Redis error: the next ones run on threads for a while."""
    global _trouble_until
    _trouble_until = time.monotonic() + TROUBLE_SECONDS


def _check_node_keys(body: SubmitRequest, graph: Graph) -> None:
    """Parameters, timeouts and attempts keyed by a container or node name that the graph has."""
    containers = {v.container for v in graph.vertices} | set(graph.skipped)
    for key in body.parameters:
        if key not in containers and graph.by_name(key) is None:
            raise BlueprintError(f"parameters for unknown container {key[:140]!r}", field=f"parameters.{key}")
    for key in body.options.node_timeouts:
        if key not in containers and graph.by_name(key) is None:
            raise BlueprintError(f"timeout for unknown container {key[:140]!r}",
                                 field=f"options.node_timeouts.{key}")
    for key in body.options.node_max_attempts:
        if key not in containers and graph.by_name(key) is None:
            raise BlueprintError(f"max_attempts for unknown container {key!r}",
                                 field=f"options.node_max_attempts.{key}")


def submit_workflow(body: SubmitRequest, who: Principal, *, store: Store, jobs: Jobs, settings: Settings,
                    policy: HostPolicy, replica_ack: ReplicaAck, graphs: GraphCache) -> SubmitResponse:
    """Store and start a workflow: 201 with its id, 409 if the id is taken, 422 naming a bad field."""
    with paused_gc():
        graph = parse_blueprint(body.blueprint, body.dockerinfo if body.dockerinfo is not None else {},
                                policy=policy, max_nodes=settings.max_nodes)
        _check_node_keys(body, graph)
        wid = body.workflow_id or f"wf-{secrets.token_hex(6)}"
        run = Store.new_run()
        spec = {"graph": graph.to_dict(),
                "inputs": [i.model_dump(exclude_none=True) for i in body.inputs],
                "parameters": body.parameters, "options": body.options.model_dump(exclude_none=True)}
        # where replicas exist, one of them holds the workflow before the 201 (a failover keeps it)
        with replica_ack.pinned(store.r) as r:
            target = store if r is store.r else Store(r, store.p)
            made = target.create_run(wid, spec, len(graph.vertices), [v.parents for v in graph.vertices],
                                     [v.children for v in graph.vertices], settings.lease_ttl,
                                     services_api_key=body.services_api_key, user=who.user, run=run)
        if made is None:
            raise HTTPException(409, f"workflow_id {wid!r} already exists")
        graphs.put(wid, run, graph)
        roots, dedicated = made
        jobs.enqueue(wid, roots, dedicated=dedicated)
        api_event(store.r, settings.prefix, "submitted", wid, who.user, nodes=len(graph.vertices))
        return SubmitResponse(workflow_id=wid, status=TaskStatus.PENDING, user=who.user)
