"""Stops that must reach a service: sent at once, else kept in Redis and retried by every worker.

When the orchestrator stops caring about a node's task (outage tolerance
exceeded, node timeout, workflow cancelled, fail-fast) the task may still run
on its service. `/control/stop` is sent right away; if the service cannot be
reached, the stop goes into the sorted set `{prefix}:stops` (member: JSON
`{"w": workflow id, "i": node index, "t": task id}`, score: when to try next).
Every worker's `retry_due` sends the due ones until the service answers, or
drops them once the workflow is gone (its retention ended).
"""

from __future__ import annotations

import json
import logging
import time

from orchestrator.control import ControlClient, Reply
from orchestrator.settings import Settings
from orchestrator.store import Store, task_id_for

log = logging.getLogger("orchestrator.stops")


def stops_key(store: Store) -> str:
    return f"{store.p}:stops"


def _target(store: Store, settings: Settings, wid: str, index: int) -> tuple[str, str | None, str] | None:
    """(service base URL, api key, default task id) of node `index`, or None if the workflow is gone."""
    spec = store.spec(wid)
    if spec is None:
        return None
    run, spec_d, api_key = spec
    v = spec_d["graph"]["vertices"][index]
    host = f"[{v['host']}]" if ":" in v["host"] else v["host"]
    tid = task_id_for(wid, run, index, v["container"], v["operation"], 1)
    return f"{v.get('scheme', 'http')}://{host}:{v['port']}", api_key or settings.services_api_key, tid


async def send_stop(store: Store, control: ControlClient, settings: Settings, wid: str, index: int,
                    task_id: str, base: str | None = None, api_key: str | None = None,
                    token: int | None = None) -> Reply:
    """`/control/stop` now; when the service is unreachable, keep it pending for the background retry.

    `base`/`api_key`: the service, when the caller knows it (else read from the workflow's spec);
    `token`: the caller's fencing token (the driving worker), None for the API.
    """
    if base is None:
        target = _target(store, settings, wid, index)
        if target is None:
            return Reply(404, {"detail": "workflow gone"})
        base, api_key, _ = target
    reply = await control.stop(base, task_id, api_key)
    if reply.transient:
        member = json.dumps({"w": wid, "i": index, "t": task_id}, separators=(",", ":"))
        store.r.zadd(stops_key(store), {member: time.time() + settings.stop_retry_interval})
        log.warning("stop of task %s (workflow %s node %d) kept pending: %s", task_id, wid, index,
                    reply.detail())
    else:
        store.patch(wid, index, {"stop_sent": "1"}, token=token)
    return reply


async def retry_due(store: Store, control: ControlClient, settings: Settings, limit: int = 100) -> int:
    """Send the pending stops that are due; returns how many reached their service."""
    key = stops_key(store)
    now = time.time()
    due = store.r.zrangebyscore(key, "-inf", repr(now), start=0, num=limit)
    if not due:
        return 0
    # push them into the future first so other workers do not send the same ones meanwhile
    store.r.zadd(key, {m: now + settings.stop_retry_interval for m in due}, xx=True)
    reached = 0
    for member in due:
        try:
            item = json.loads(member)
            wid, index, task_id = str(item["w"]), int(item["i"]), str(item["t"])
        except (ValueError, KeyError, TypeError):
            store.r.zrem(key, member)
            continue
        target = _target(store, settings, wid, index)
        if target is None:  # the workflow's retention ended: nobody can use the answer any more
            store.r.zrem(key, member)
            continue
        base, api_key, _ = target
        reply = await control.stop(base, task_id, api_key)
        if not reply.transient:
            store.r.zrem(key, member)
            reached += 1
            log.info("pending stop of task %s reached its service: %s", task_id, reply.status_code)
    return reached
