"""Workflows and node runs in Redis; every state change is one atomic Lua script.

Keys (all start with the configurable prefix, default `orch`):

=================================  =========  ===========================================
key                                type       holds
=================================  =========  ===========================================
`orch:wf:{wid}`                    hash       workflow: status, run, created_at/_ts,
                                              started_at, finished_at/_ts, error,
                                              failed_node, total, done, spec (JSON:
                                              graph, inputs, parameters, options),
                                              services_api_key
`orch:wf:{wid}:n:{i}`              hash       node run of vertex i: status, scheduled,
                                              attempt, task_id, progress, details, inputs,
                                              output, error, retries, parents, children,
                                              created/started/finished/updated_at
`orch:index`                       zset       every workflow id, scored by creation time
`orch:user:{user}`                 zset       the workflow ids a user submitted (same score)
`orch:status:{status}`             zset       workflow ids in that status (same score)
`orch:finished`                    zset       finished workflow ids, scored by finish time
                                              (retention: TTL and count bound)
`orch:leases`                      zset       "{wid}|{i}" → lease expiry (epoch seconds)
                                              of every scheduled or running node
`orch:lease_owner`                 hash       "{wid}|{i}" → worker id, or "queued"
`orch:dedicated:{wid}`             string     id of a worker dedicated to the workflow (TTL)
`orch:maintenance`                 string     lock: one worker runs retention at a time
`orch:events:{wid}`                pub/sub    a JSON message per node or workflow change
                                              (see "Events" below)
`rq:queue:orch`, `rq:queue:orch-{wid}`        RQ's own keys: the shared queue and the
                                              queue of a dedicated worker
=================================  =========  ===========================================

Finished workflows get a TTL (`retention_seconds`) on their `wf` and node keys;
maintenance drops their index entries and keeps at most `max_finished`.
Nothing on the hot path scans workflows: a node completion touches only its
own workflow's keys.

Events: every script that changes a node or a workflow PUBLISHes, from inside
the script (so in the order of the changes), a small JSON message on
`orch:events:{wid}`: `{"t": "node", "i": 3, "status": ..., "progress": ...,
"attempt", "task_id", "error", "started_at", "finished_at", "updated_at",
"retries", "seq"}` or `{"t": "wf", "status", "done", "total", "error",
"started_at", "finished_at", "updated_at", "seq"}`; `delete` publishes
`{"t": "deleted"}`. Only when someone is subscribed (`PUBSUB NUMSUB`, so the
hot path pays nearly nothing otherwise) is `seq` (field `seq` of the workflow
hash) incremented: a subscriber that subscribes *before* reading a snapshot
(with `seq`, in one MULTI) drops messages with `seq` <= the snapshot's and so
sees every later change exactly once, in order. See `orchestrator/events.py`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis

from taskservice.models import TaskStatus

ACTIVE_NODE = ("pending", "running", "stopping")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


_LUA_COMMON = r"""
local P = ARGV[1]
local function wfkey(wid) return P .. ':wf:' .. wid end
local function nkey(wid, i) return P .. ':wf:' .. wid .. ':n:' .. i end
local function is_final(s) return s == 'complete' or s == 'failed' or s == 'cancelled' end
local function set_wf_status(wid, new)
  local k = wfkey(wid)
  local old = redis.call('HGET', k, 'status')
  if old == new then return end
  local created = redis.call('HGET', k, 'created_ts') or '0'
  if old then redis.call('ZREM', P .. ':status:' .. old, wid) end
  redis.call('ZADD', P .. ':status:' .. new, created, wid)
  redis.call('HSET', k, 'status', new)
end
local function drop_lease(wid, i)
  local m = wid .. '|' .. i
  redis.call('ZREM', P .. ':leases', m)
  redis.call('HDEL', P .. ':lease_owner', m)
end
local function finish_wf(wid, status, now_ts, now_iso, retention)
  local k = wfkey(wid)
  set_wf_status(wid, status)
  redis.call('HSET', k, 'finished_at', now_iso, 'finished_ts', now_ts, 'updated_at', now_iso)
  redis.call('ZADD', P .. ':finished', now_ts, wid)
  local total = tonumber(redis.call('HGET', k, 'total') or '0')
  local ttl = math.floor(tonumber(retention))
  if ttl > 0 then
    redis.call('EXPIRE', k, ttl)
    for j = 0, total - 1 do redis.call('EXPIRE', nkey(wid, j), ttl) end
  end
end
local function channel(wid)
  local ch = P .. ':events:' .. wid
  local n = redis.call('PUBSUB', 'NUMSUB', ch)
  if tonumber(n[2]) > 0 then return ch end
  return nil
end
local function publish(wid, msg)
  local ch = channel(wid)
  if not ch then return end
  local wk = wfkey(wid)
  if redis.call('EXISTS', wk) == 0 then return end
  msg.seq = redis.call('HINCRBY', wk, 'seq', 1)
  redis.call('PUBLISH', ch, cjson.encode(msg))
end
local NODE_FIELDS = {'status', 'progress', 'attempt', 'task_id', 'error', 'started_at', 'finished_at',
                     'updated_at', 'retries', 'details'}
local function pub_node(wid, i)
  if not channel(wid) then return end
  local f = redis.call('HMGET', nkey(wid, i), unpack(NODE_FIELDS))
  local msg = {t = 'node', i = tonumber(i)}
  for n, name in ipairs(NODE_FIELDS) do if f[n] then msg[name] = f[n] end end
  publish(wid, msg)
end
local WF_FIELDS = {'status', 'done', 'total', 'error', 'started_at', 'finished_at', 'updated_at'}
local function pub_wf(wid)
  if not channel(wid) then return end
  local f = redis.call('HMGET', wfkey(wid), unpack(WF_FIELDS))
  local msg = {t = 'wf'}
  for n, name in ipairs(WF_FIELDS) do if f[n] then msg[name] = f[n] end end
  publish(wid, msg)
end
-- cancel the workflow's pending nodes and mark its running ones stopping;
-- the indices of the running ones are appended to to_stop (their service tasks get /control/stop)
local function stop_live_nodes(wid, total, now_iso, to_stop)
  for j = 0, total - 1 do
    local jk = nkey(wid, j)
    local sj = redis.call('HGET', jk, 'status')
    if sj == 'pending' then
      redis.call('HSET', jk, 'status', 'cancelled', 'finished_at', now_iso, 'updated_at', now_iso)
      drop_lease(wid, j)
      pub_node(wid, j)
    elseif sj == 'running' then
      redis.call('HSET', jk, 'status', 'stopping', 'updated_at', now_iso)
      to_stop[#to_stop + 1] = tostring(j)
      pub_node(wid, j)
    end
  end
end
local function ready(wid, i)
  local parents = redis.call('HGET', nkey(wid, i), 'parents') or ''
  for p in string.gmatch(parents, '%d+') do
    if redis.call('HGET', nkey(wid, p), 'status') ~= 'complete' then return false end
  end
  return true
end
local function schedule(wid, i, lease_until, out)
  local k = nkey(wid, i)
  local st = redis.call('HGET', k, 'status')
  if st == 'pending' and redis.call('HGET', k, 'scheduled') ~= '1' and ready(wid, i) then
    redis.call('HSET', k, 'scheduled', '1')
    local m = wid .. '|' .. i
    redis.call('ZADD', P .. ':leases', lease_until, m)
    redis.call('HSET', P .. ':lease_owner', m, 'queued')
    out[#out + 1] = tostring(i)
  end
end
"""

_SUBMIT = _LUA_COMMON + r"""
-- ARGV: P, wid, now_ts, now_iso, lease_until, nfields, k1, v1, ..., then per node: parents, children
local wid, now_ts, now_iso, lease_until = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = wfkey(wid)
if redis.call('EXISTS', k) == 1 then return false end
local nf = tonumber(ARGV[6])
local pos = 7
for f = 1, nf do
  redis.call('HSET', k, ARGV[pos], ARGV[pos + 1])
  pos = pos + 2
end
local total = tonumber(redis.call('HGET', k, 'total'))
for i = 0, total - 1 do
  redis.call('HSET', nkey(wid, i), 'status', 'pending', 'scheduled', '0', 'attempt', '1', 'progress', '0',
             'retries', '0', 'parents', ARGV[pos], 'children', ARGV[pos + 1], 'created_at', now_iso,
             'updated_at', now_iso)
  pos = pos + 2
end
redis.call('HSET', k, 'done', '0', 'created_ts', now_ts, 'created_at', now_iso, 'updated_at', now_iso)
redis.call('ZADD', P .. ':index', now_ts, wid)
set_wf_status(wid, 'pending')
local out = {}
for i = 0, total - 1 do schedule(wid, i, lease_until, out) end
return out
"""

_CLAIM = _LUA_COMMON + r"""
-- ARGV: P, wid, i, me, now, lease_until, now_iso
local wid, i, me, now, lease_until, now_iso = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local k = nkey(wid, i)
local m = wid .. '|' .. i
local st = redis.call('HGET', k, 'status')
if (not st) or is_final(st) then drop_lease(wid, i); return false end
if st == 'pending' and redis.call('HGET', k, 'scheduled') ~= '1' then return false end
local owner = redis.call('HGET', P .. ':lease_owner', m)
local score = tonumber(redis.call('ZSCORE', P .. ':leases', m) or '0')
if owner and owner ~= me and owner ~= 'queued' and score > now then return false end
redis.call('HSET', P .. ':lease_owner', m, me)
redis.call('ZADD', P .. ':leases', lease_until, m)
local wk = wfkey(wid)
local wst = redis.call('HGET', wk, 'status')
if wst == 'pending' then
  set_wf_status(wid, 'running')
  redis.call('HSET', wk, 'started_at', now_iso, 'updated_at', now_iso)
  wst = 'running'
  pub_wf(wid)
end
local parents = redis.call('HGET', k, 'parents') or ''
local outs = {}
for p in string.gmatch(parents, '%d+') do
  outs[#outs + 1] = redis.call('HGET', nkey(wid, p), 'output') or 'null'
end
local f = redis.call('HMGET', k, 'attempt', 'started_ts', 'retries', 'stop_sent')
return {wst or '', st, f[1] or '1', f[2] or '', f[3] or '0', f[4] or '', '[' .. table.concat(outs, ',') .. ']'}
"""

_PATCH = _LUA_COMMON + r"""
-- ARGV: P, wid, i, allowed (comma list or ''), new_status (or ''), k1, v1, ...
local k = nkey(ARGV[2], ARGV[3])
local st = redis.call('HGET', k, 'status')
if not st then return false end
if ARGV[4] ~= '' and not string.find(',' .. ARGV[4] .. ',', ',' .. st .. ',', 1, true) then return false end
if ARGV[5] ~= '' then redis.call('HSET', k, 'status', ARGV[5]) end
for pos = 6, #ARGV, 2 do redis.call('HSET', k, ARGV[pos], ARGV[pos + 1]) end
pub_node(ARGV[2], ARGV[3])
return st
"""

_FINISH = _LUA_COMMON + r"""
-- ARGV: P, wid, i, status, now_ts, now_iso, retention, fail_fast, lease_until, wf_error, k1, v1, ...
local wid, i, status, now_ts, now_iso = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local retention, fail_fast, lease_until, wf_error = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local k = nkey(wid, i)
local st = redis.call('HGET', k, 'status')
if (not st) or is_final(st) then return {0} end
redis.call('HSET', k, 'status', status, 'finished_at', now_iso, 'updated_at', now_iso)
for pos = 11, #ARGV, 2 do redis.call('HSET', k, ARGV[pos], ARGV[pos + 1]) end
drop_lease(wid, i)
pub_node(wid, i)
local wk = wfkey(wid)
local wst = redis.call('HGET', wk, 'status')
local wst0 = wst
local total = tonumber(redis.call('HGET', wk, 'total') or '0')
local to_start, to_stop = {}, {}
local live = (wst == 'pending' or wst == 'running')
if status == 'complete' then
  redis.call('HINCRBY', wk, 'done', 1)
  if live then
    local children = redis.call('HGET', k, 'children') or ''
    for c in string.gmatch(children, '%d+') do schedule(wid, c, lease_until, to_start) end
  end
elseif live then
  if not redis.call('HGET', wk, 'failed_node') then
    redis.call('HSET', wk, 'error', wf_error, 'failed_node', i)
  end
  if fail_fast == '1' then
    stop_live_nodes(wid, total, now_iso, to_stop)
    finish_wf(wid, 'failed', now_ts, now_iso, retention)
    wst = 'failed'
  end
end
if wst == 'pending' or wst == 'running' or wst == 'stopping' then
  local done = tonumber(redis.call('HGET', wk, 'done') or '0')
  if wst ~= 'stopping' and done == total then
    finish_wf(wid, 'complete', now_ts, now_iso, retention)
    wst = 'complete'
  else
    local active = 0
    for j = 0, total - 1 do
      local f = redis.call('HMGET', nkey(wid, j), 'status', 'scheduled')
      if f[1] == 'running' or f[1] == 'stopping' or (f[1] == 'pending' and f[2] == '1') then active = active + 1 end
    end
    if active == 0 then
      if wst == 'stopping' then wst = 'cancelled' else wst = 'failed' end
      finish_wf(wid, wst, now_ts, now_iso, retention)
    end
  end
end
redis.call('HSET', wk, 'updated_at', now_iso)
if wst ~= wst0 or status == 'complete' then pub_wf(wid) end
-- whether a dedicated worker serves the workflow (saves Jobs.enqueue a round trip)
local dedicated = 0
if #to_start > 1 then dedicated = redis.call('EXISTS', P .. ':dedicated:' .. wid) end
local out = {1, wst, #to_start, dedicated}
for _, v in ipairs(to_start) do out[#out + 1] = v end
for _, v in ipairs(to_stop) do out[#out + 1] = v end
return out
"""

_CANCEL = _LUA_COMMON + r"""
-- ARGV: P, wid, now_ts, now_iso, retention
local wid, now_ts, now_iso, retention = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local wk = wfkey(wid)
local wst = redis.call('HGET', wk, 'status')
if not wst then return {-1} end
if is_final(wst) or wst == 'stopping' then return {0, wst} end
local total = tonumber(redis.call('HGET', wk, 'total') or '0')
local to_stop = {}
stop_live_nodes(wid, total, now_iso, to_stop)
redis.call('HSET', wk, 'error', 'cancelled by request', 'updated_at', now_iso)
local new = 'cancelled'
if #to_stop > 0 then set_wf_status(wid, 'stopping'); new = 'stopping'
else finish_wf(wid, 'cancelled', now_ts, now_iso, retention) end
pub_wf(wid)
local out = {1, new}
for _, v in ipairs(to_stop) do out[#out + 1] = v end
return out
"""

_RETRY = _LUA_COMMON + r"""
-- ARGV: P, wid, now_iso, lease_until
local wid, now_iso, lease_until = ARGV[2], ARGV[3], ARGV[4]
local wk = wfkey(wid)
local wst = redis.call('HGET', wk, 'status')
if not wst then return {-1} end
if wst ~= 'failed' and wst ~= 'cancelled' then return {0, wst} end
local total = tonumber(redis.call('HGET', wk, 'total') or '0')
for j = 0, total - 1 do
  local sj = redis.call('HGET', nkey(wid, j), 'status')
  if sj == 'running' or sj == 'stopping' then return {0, 'stopping'} end
end
for j = 0, total - 1 do
  local jk = nkey(wid, j)
  local sj = redis.call('HGET', jk, 'status')
  if sj == 'failed' or sj == 'cancelled' then
    redis.call('HINCRBY', jk, 'attempt', 1)
    redis.call('HSET', jk, 'status', 'pending', 'scheduled', '0', 'progress', '0', 'retries', '0',
               'updated_at', now_iso)
    redis.call('HDEL', jk, 'error', 'output', 'task_id', 'started_at', 'started_ts', 'finished_at',
               'details', 'inputs', 'stop_sent')
    pub_node(wid, j)
  end
  redis.call('PERSIST', jk)
end
redis.call('PERSIST', wk)
redis.call('ZREM', P .. ':finished', wid)
redis.call('HDEL', wk, 'finished_at', 'finished_ts', 'error', 'failed_node')
redis.call('HSET', wk, 'updated_at', now_iso)
set_wf_status(wid, 'running')
pub_wf(wid)
local out = {1}
for j = 0, total - 1 do schedule(wid, j, lease_until, out) end
return out
"""

_HEARTBEAT = _LUA_COMMON + r"""
-- ARGV: P, me, lease_until, members...  → members whose lease is no longer ours
local lost = {}
for pos = 4, #ARGV do
  local m = ARGV[pos]
  local owner = redis.call('HGET', P .. ':lease_owner', m)
  if owner == ARGV[2] then
    redis.call('ZADD', P .. ':leases', ARGV[3], m)
  elseif owner then
    lost[#lost + 1] = m  -- another worker holds it now (no owner: the node just finished)
  end
end
return lost
"""

_RELEASE = _LUA_COMMON + r"""
-- ARGV: P, me, members...  → make our leases expire now, so another worker takes over at once
for pos = 3, #ARGV do
  local m = ARGV[pos]
  if redis.call('HGET', P .. ':lease_owner', m) == ARGV[2] then
    redis.call('ZADD', P .. ':leases', 0, m)
  end
end
return 1
"""


@dataclass
class Claim:
    """What a worker needs to drive a node it now holds the lease of."""

    workflow_id: str
    index: int
    workflow_status: str
    status: str
    attempt: int
    started_ts: float | None
    retries: int
    stop_sent: bool
    parent_outputs: list[Any]


@dataclass
class FinishResult:
    changed: bool
    workflow_status: str = ""
    to_start: list[int] | None = None
    to_stop: list[int] | None = None
    dedicated: bool = False  # a dedicated worker serves the workflow (known when to_start has 2+)


def task_id_for(workflow_id: str, run: str, index: int, container: str, operation: str,
                attempt: int) -> str:
    """Unique per workflow run, vertex and attempt; readable; at most 200 characters."""
    tid = f"{workflow_id}.{run}.{index}.{container}.{operation}.a{attempt}"
    if len(tid) > 200:
        tid = f"{workflow_id[:120]}.{run}.{index}.{uuid.uuid5(uuid.NAMESPACE_URL, tid).hex}.a{attempt}"
    return tid


class Store:
    """Synchronous access to the orchestrator's Redis keys (API, RQ jobs, worker monitor)."""

    def __init__(self, client: redis.Redis, prefix: str = "orch") -> None:
        self.r = client
        self.p = prefix
        self._submit = client.register_script(_SUBMIT)
        self._claim = client.register_script(_CLAIM)
        self._patch = client.register_script(_PATCH)
        self._finish = client.register_script(_FINISH)
        self._cancel = client.register_script(_CANCEL)
        self._retry = client.register_script(_RETRY)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._release = client.register_script(_RELEASE)
        self._spec_cache: dict[str, tuple[str, dict[str, Any]]] = {}

    @classmethod
    def from_url(cls, url: str, prefix: str = "orch") -> Store:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    # keys -------------------------------------------------------------------
    def wf_key(self, wid: str) -> str:
        return f"{self.p}:wf:{wid}"

    def node_key(self, wid: str, i: int | str) -> str:
        return f"{self.p}:wf:{wid}:n:{i}"

    @property
    def leases_key(self) -> str:
        return f"{self.p}:leases"

    def dedicated_key(self, wid: str) -> str:
        return f"{self.p}:dedicated:{wid}"

    def user_key(self, user: str) -> str:
        """Index of the workflows `user` submitted."""
        return f"{self.p}:user:{user}"

    def events_channel(self, wid: str) -> str:
        """Pub/sub channel of the workflow's change messages (see the module docstring)."""
        return f"{self.p}:events:{wid}"

    # workflows --------------------------------------------------------------
    def create(self, wid: str, spec: dict[str, Any], total: int, parents: list[list[int]],
               children: list[list[int]], lease_until: float,
               services_api_key: str | None = None, user: str | None = None) -> list[int] | None:
        """Store a new workflow; None if the id is taken. Returns the root vertices to start."""
        fields = {"workflow_id": wid, "run": uuid.uuid4().hex[:8], "total": str(total),
                  "spec": json.dumps(spec, separators=(",", ":"))}
        name = (spec.get("graph") or {}).get("name")
        if name:
            fields["name"] = str(name)
        if services_api_key:
            fields["services_api_key"] = services_api_key
        if user:
            fields["user"] = user
        created = time.time()
        argv: list[Any] = [self.p, wid, repr(created), now_iso(), repr(lease_until), len(fields)]
        for k, v in fields.items():
            argv += [k, v]
        for ps, cs in zip(parents, children):
            argv += [",".join(map(str, ps)), ",".join(map(str, cs))]
        res = self._submit(args=argv)
        if res is None:
            return None
        if user:
            self.r.zadd(self.user_key(user), {wid: created})
        return [int(x) for x in res]

    def workflow(self, wid: str) -> dict[str, Any] | None:
        h = self.r.hgetall(self.wf_key(wid))
        return h or None

    def spec(self, wid: str) -> tuple[str, dict[str, Any], str | None] | None:
        """(run, spec, services_api_key): immutable for a run, cached per process."""
        cached = self._spec_cache.get(wid)
        if cached is not None:
            run, spec, key = cached  # type: ignore[misc]
            return run, spec, key
        run, raw, key = self.r.hmget(self.wf_key(wid), "run", "spec", "services_api_key")
        if raw is None:
            return None
        value = (run, json.loads(raw), key)
        if len(self._spec_cache) > 2000:
            self._spec_cache.clear()
        self._spec_cache[wid] = value  # type: ignore[assignment]
        return value

    def forget_spec(self, wid: str) -> None:
        self._spec_cache.pop(wid, None)

    def nodes(self, wid: str, total: int) -> list[dict[str, Any]]:
        pipe = self.r.pipeline(transaction=False)
        for i in range(total):
            pipe.hgetall(self.node_key(wid, i))
        return pipe.execute()

    def node(self, wid: str, i: int) -> dict[str, Any]:
        return self.r.hgetall(self.node_key(wid, i))

    def node_status(self, wid: str, i: int) -> str | None:
        return self.r.hget(self.node_key(wid, i), "status")

    def list_ids(self, status: str | None, offset: int, limit: int,
                 user: str | None = None) -> tuple[list[str], int]:
        """Workflow ids newest first, optionally only in `status` and/or submitted by `user`; and the total."""
        key = f"{self.p}:status:{status}" if status else f"{self.p}:index"
        if user is not None:
            if status:  # both: intersect into a short-lived key
                both = f"{self.p}:tmp:{uuid.uuid4().hex}"
                pipe = self.r.pipeline(transaction=True)
                pipe.zinterstore(both, {self.user_key(user): 1, key: 0})
                pipe.zrevrange(both, offset, offset + limit - 1)
                pipe.delete(both)
                total, ids, _ = pipe.execute()
                return ids, int(total)
            key = self.user_key(user)
        ids = self.r.zrevrange(key, offset, offset + limit - 1)
        return ids, self.r.zcard(key)

    def delete(self, wid: str) -> bool:
        wf = self.workflow(wid)
        if wf is None:
            return False
        total = int(wf.get("total", 0))
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(self.wf_key(wid), *[self.node_key(wid, i) for i in range(total)])
        pipe.zrem(f"{self.p}:index", wid)
        pipe.zrem(f"{self.p}:finished", wid)
        if wf.get("user"):
            pipe.zrem(self.user_key(wf["user"]), wid)
        for s in TaskStatus:
            pipe.zrem(f"{self.p}:status:{s.value}", wid)
        members = [f"{wid}|{i}" for i in range(total)]
        if members:
            pipe.zrem(self.leases_key, *members)
            pipe.hdel(f"{self.p}:lease_owner", *members)
        pipe.publish(self.events_channel(wid), '{"t":"deleted"}')
        pipe.execute()
        self.forget_spec(wid)
        return True

    # transitions ------------------------------------------------------------
    def claim(self, wid: str, i: int, me: str, lease_ttl: float) -> Claim | None:
        now = time.time()
        res = self._claim(args=[self.p, wid, i, me, repr(now), repr(now + lease_ttl), now_iso()])
        if not res:
            return None
        wst, st, attempt, started_ts, retries, stop_sent, outs = res
        return Claim(wid, int(i), wst, st, int(attempt), float(started_ts) if started_ts else None,
                     int(retries), bool(stop_sent), json.loads(outs))

    def patch(self, wid: str, i: int, fields: dict[str, Any], allowed: tuple[str, ...] = (),
              new_status: str = "") -> str | None:
        argv: list[Any] = [self.p, wid, i, ",".join(allowed), new_status]
        for k, v in fields.items():
            argv += [k, v]
        return self._patch(args=argv)

    def finish(self, wid: str, i: int, status: str, fields: dict[str, Any], *, retention: float,
               fail_fast: bool, lease_ttl: float, wf_error: str = "") -> FinishResult:
        now = time.time()
        argv: list[Any] = [self.p, wid, i, status, repr(now), now_iso(), repr(retention),
                           "1" if fail_fast else "0", repr(now + lease_ttl), wf_error]
        for k, v in fields.items():
            argv += [k, v]
        res = self._finish(args=argv)
        if not res or int(res[0]) == 0:
            return FinishResult(False)
        n_start = int(res[2])
        rest = [int(x) for x in res[4:]]
        if res[1] in ("complete", "failed", "cancelled"):
            self.forget_spec(wid)
        return FinishResult(True, res[1], rest[:n_start], rest[n_start:], bool(int(res[3])))

    def cancel(self, wid: str, retention: float) -> tuple[int, str, list[int]]:
        """(1 cancelled | 0 not running | -1 unknown, new status, nodes to stop)."""
        res = self._cancel(args=[self.p, wid, repr(time.time()), now_iso(), repr(retention)])
        code = int(res[0])
        if code <= 0:
            return code, (res[1] if len(res) > 1 else ""), []
        return 1, res[1], [int(x) for x in res[2:]]

    def retry(self, wid: str, lease_ttl: float) -> tuple[int, str, list[int]]:
        res = self._retry(args=[self.p, wid, now_iso(), repr(time.time() + lease_ttl)])
        code = int(res[0])
        if code <= 0:
            return code, (res[1] if len(res) > 1 else ""), []
        return 1, "running", [int(x) for x in res[1:]]

    def heartbeat(self, me: str, members: list[str], lease_ttl: float) -> list[str]:
        if not members:
            return []
        return list(self._heartbeat(args=[self.p, me, repr(time.time() + lease_ttl), *members]))

    def release(self, me: str, members: list[str]) -> None:
        if members:
            self._release(args=[self.p, me, *members])

    def expired_leases(self, limit: int = 200) -> list[str]:
        return self.r.zrangebyscore(self.leases_key, "-inf", repr(time.time()), start=0, num=limit)

    def queued_members(self, wid: str) -> list[str]:
        """Lease members of `wid` scheduled but not yet claimed by any worker."""
        total = int(self.r.hget(self.wf_key(wid), "total") or 0)
        if not total:
            return []
        members = [f"{wid}|{i}" for i in range(total)]
        owners = self.r.hmget(f"{self.p}:lease_owner", members)
        return [m for m, o in zip(members, owners) if o == "queued"]

    def lease_owner(self, wid: str, i: int) -> str | None:
        return self.r.hget(f"{self.p}:lease_owner", f"{wid}|{i}")

    # retention ----------------------------------------------------------------
    def prune(self, retention: float, max_finished: int) -> int:
        """Drop finished workflows older than `retention` and beyond `max_finished`."""
        fin = f"{self.p}:finished"
        old = self.r.zrangebyscore(fin, "-inf", repr(time.time() - retention), start=0, num=1000)
        excess = self.r.zcard(fin) - len(old) - max_finished
        if excess > 0:
            old += [w for w in self.r.zrange(fin, 0, min(excess, 1000) - 1) if w not in old]
        for wid in old:
            self.delete(wid)
            self.r.zrem(fin, wid)
        return len(old)
