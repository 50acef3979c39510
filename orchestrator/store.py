"""Workflows and node runs in Redis; every state change is one atomic Lua program (`orchestrator.lualib`).

Keys (all start with the configurable prefix, default `orch`):

=================================  =========  ===========================================
key                                type       holds
=================================  =========  ===========================================
`orch:wf:{wid}`                    hash       workflow: status, run, created_at/_ts,
                                              started_at, finished_at/_ts, error,
                                              failed_node, spec (JSON: graph, inputs,
                                              parameters, options), services_api_key;
                                              counters kept by the scripts: total, active
                                              (running, stopping, or pending and scheduled),
                                              done (complete), failed, cancelled; bytes
                                              (spec + node overhead + stored outputs)
`orch:wf:{wid}:n:{i}`              hash       node run of vertex i: status, scheduled,
                                              attempt, task_id, progress, details,
                                              output, error, retries, parents, children,
                                              fanin (the children that have other parents
                                              too), remaining (parents not yet complete), token
                                              (fencing), owner (the worker id holding its
                                              lease, "queued" until a worker claims it, ""
                                              once ended), queued_until (the lease expiry
                                              given when it was scheduled),
                                              created/started/finished/updated_at
`orch:index`                       zset       every workflow id, scored by creation time
`orch:user:{user}`                 zset       the workflow ids a user submitted (same score)
`orch:status:{status}`             zset       workflow ids in that status (same score)
`orch:finished`                    zset       finished workflow ids, scored by finish time
                                              (retention: TTL, count and byte bounds)
`orch:finished_size`               hash       finished workflow id → its bytes
`orch:finished_bytes`              string     sum of `finished_size` (retention by bytes)
`orch:leases`                      zset       "{wid}|{i}" → lease expiry (epoch seconds)
                                              of every scheduled or running node
`orch:ready:{queue}`               list       batched node starts "{wid}|{i},{j}" waiting for
                                              a `start_ready` RQ job (see `orchestrator.jobs`)
`orch:ready_job:{queue}`           string     set while such a job is queued (expires)
`orch:dedicated:{wid}`             string     id of a worker dedicated to the workflow (TTL)
`orch:maintenance`                 string     lock: one worker runs retention at a time
`orch:events:{wid}`                pub/sub    a JSON message per node or workflow change
                                              (see "Events" below)
`rq:queue:orch`, `rq:queue:orch-{wid}`        RQ's own keys: the shared queue and the
                                              queue of a dedicated worker
=================================  =========  ===========================================

Finished workflows get a TTL (`retention_seconds`) on their `wf` and node keys;
maintenance drops their index entries, keeps at most `max_finished` and drops
the oldest while the finished history exceeds `retention_max_mb`.
Nothing on the hot path scans workflows or their nodes: a node event costs
O(1) plus its own edges (a completion decrements each child's `remaining` and
schedules the child that reaches 0, exactly once; the workflow ends when the
counters say so). Only cancel, fail-fast and retry walk every node.

Each node output is stored once, on its node; a child's inputs are its
parents' outputs, read when the child is claimed (and by `nodes()`/`node()`
for the API), never copied into the child.

Fencing: a claim by a new owner increments the node's `token`; the worker's
writes carry it and a script refuses a stale one (`LeaseLost`).

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
import redis

from orchestrator.lualib import LuaLibrary
from taskservice.models import TaskStatus

ACTIVE_NODE = ("pending", "running", "stopping", "paused")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


_LUA_COMMON = r"""
local P = ARGV[1]
local function wfkey(wid) return P .. ':wf:' .. wid end
local function nkey(wid, i) return P .. ':wf:' .. wid .. ':n:' .. i end
local function is_final(s) return s == 'complete' or s == 'failed' or s == 'cancelled' end
local function is_active(s, sched)
  return s == 'running' or s == 'stopping' or s == 'paused' or (s == 'pending' and sched == '1')
end
local COUNTER = {complete = 'done', failed = 'failed', cancelled = 'cancelled'}
local function set_wf_status(wid, new)
  local k = wfkey(wid)
  local old = redis.call('HGET', k, 'status')
  if old == new then return end
  local created = redis.call('HGET', k, 'created_ts') or '0'
  if old then redis.call('ZREM', P .. ':status:' .. old, wid) end
  redis.call('ZADD', P .. ':status:' .. new, created, wid)
  redis.call('HSET', k, 'status', new)
end
-- the one way a node's status (and scheduled flag; nil: unchanged) changes: keeps the
-- workflow's counters (active, done, failed, cancelled) right in O(1)
-- (old_st, old_sched: the node's current values when the caller has just read them; extra: more
-- field/value pairs written with the status in the same HSET)
local function set_node(wid, i, new_st, new_sched, old_st, old_sched, extra)
  local k = nkey(wid, i)
  local f = {old_st, old_sched}
  if not old_st then f = redis.call('HMGET', k, 'status', 'scheduled') end
  local sched = new_sched or f[2]
  local wk = wfkey(wid)
  local da = (is_active(new_st, sched) and 1 or 0) - (is_active(f[1], f[2]) and 1 or 0)
  if da ~= 0 then redis.call('HINCRBY', wk, 'active', da) end
  if f[1] ~= new_st then
    if f[1] and COUNTER[f[1]] then redis.call('HINCRBY', wk, COUNTER[f[1]], -1) end
    if COUNTER[new_st] then redis.call('HINCRBY', wk, COUNTER[new_st], 1) end
  end
  local fields = {'status', new_st}
  if new_sched then fields[3] = 'scheduled'; fields[4] = new_sched end
  if extra then for _, v in ipairs(extra) do fields[#fields + 1] = v end end
  redis.call('HSET', k, unpack(fields))
end
-- per-workflow byte size (spec + what the nodes stored), and the finished history's total
local function add_bytes(wid, n)
  if n == 0 then return end
  redis.call('HINCRBY', wfkey(wid), 'bytes', n)
  if redis.call('HEXISTS', P .. ':finished_size', wid) == 1 then
    redis.call('HINCRBY', P .. ':finished_size', wid, n)
    redis.call('INCRBY', P .. ':finished_bytes', n)
  end
end
-- (the node's `owner` field is cleared by the caller, in the HSET it makes anyway)
local function drop_lease(wid, i)
  redis.call('ZREM', P .. ':leases', wid .. '|' .. i)
end
local function finish_wf(wid, status, now_ts, now_iso, retention)
  local k = wfkey(wid)
  set_wf_status(wid, status)
  redis.call('HSET', k, 'finished_at', now_iso, 'finished_ts', now_ts, 'updated_at', now_iso)
  redis.call('ZADD', P .. ':finished', now_ts, wid)
  local b = tonumber(redis.call('HGET', k, 'bytes') or '0')
  local old = tonumber(redis.call('HGET', P .. ':finished_size', wid) or '0')
  redis.call('HSET', P .. ':finished_size', wid, b)
  redis.call('INCRBY', P .. ':finished_bytes', b - old)
  local total = tonumber(redis.call('HGET', k, 'total') or '0')
  local ttl = math.floor(tonumber(retention))
  if ttl > 0 then
    redis.call('EXPIRE', k, ttl)
    for j = 0, total - 1 do redis.call('EXPIRE', nkey(wid, j), ttl) end
  end
end
local SUBSCRIBED = {}  -- per script call: whether the workflow's channel has subscribers
local function channel(wid)
  local ch = P .. ':events:' .. wid
  if SUBSCRIBED[wid] == nil then
    SUBSCRIBED[wid] = tonumber(redis.call('PUBSUB', 'NUMSUB', ch)[2]) > 0
  end
  if SUBSCRIBED[wid] then return ch end
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
-- cancel the workflow's pending nodes and mark its running ones stopping (O(N): cancel and
-- fail-fast only); the indices of the running ones are appended to to_stop (they get /control/stop)
local function stop_live_nodes(wid, total, now_iso, to_stop)
  for j = 0, total - 1 do
    local jk = nkey(wid, j)
    local sj = redis.call('HGET', jk, 'status')
    if sj == 'pending' then
      set_node(wid, j, 'cancelled', nil, nil, nil, {'finished_at', now_iso, 'updated_at', now_iso, 'owner', ''})
      drop_lease(wid, j)
      pub_node(wid, j)
    elseif sj == 'running' or sj == 'paused' then
      set_node(wid, j, 'stopping')
      redis.call('HSET', jk, 'updated_at', now_iso)
      to_stop[#to_stop + 1] = tostring(j)
      pub_node(wid, j)
    end
  end
end
-- a pending node whose parents are all complete (remaining = 0) gets its lease entry, once
local function schedule(wid, i, lease_until, out)
  local k = nkey(wid, i)
  local f = redis.call('HMGET', k, 'status', 'scheduled', 'remaining')
  if f[1] == 'pending' and f[2] ~= '1' and tonumber(f[3] or '0') <= 0 then
    set_node(wid, i, 'pending', '1', f[1], f[2], {'owner', 'queued', 'queued_until', lease_until})
    redis.call('ZADD', P .. ':leases', lease_until, wid .. '|' .. i)
    out[#out + 1] = tostring(i)
  end
end
-- the parents' stored outputs as one JSON array (ctx.outs: outputs already read in this call)
local function parent_outputs(wid, parents, ctx)
  local outs = {}
  for p in string.gmatch(parents or '', '%d+') do
    local o = ctx.outs[p]
    if o == nil then
      o = redis.call('HGET', nkey(wid, p), 'output') or 'null'
      ctx.outs[p] = o
    end
    outs[#outs + 1] = o
  end
  return '[' .. table.concat(outs, ',') .. ']'
end
-- the workflow's status for a claim (once per call, in ctx.wst): a pending workflow starts running
local function claim_wf_status(wid, now_iso, ctx)
  if ctx.wst then return ctx.wst end
  local wk = wfkey(wid)
  local wst = redis.call('HGET', wk, 'status')
  if wst == 'pending' then
    set_wf_status(wid, 'running')
    redis.call('HSET', wk, 'started_at', now_iso, 'updated_at', now_iso)
    wst = 'running'
    pub_wf(wid)
  end
  ctx.wst = wst or ''
  return ctx.wst
end
local CLAIM_FIELDS = {'status', 'scheduled', 'token', 'parents', 'attempt', 'started_ts', 'retries', 'stop_sent',
                      'owner', 'queued_until'}
local function claim_reply(wst, f, token, wid, ctx)
  return {wst, f[1], f[5] or '1', f[6] or '', f[7] or '0', f[8] or '', parent_outputs(wid, f[4], ctx),
          tostring(token)}
end
-- take node i's lease for `me`: false, or what the worker needs to drive it (see Store.claim).
-- A claim by a new owner (a first start or a takeover) increments the node's token.
-- A queued node's lease entry, written when it was scheduled, is kept while more than half of
-- the lease is left (the claimer's heartbeat renews it long before it expires): no write to the
-- leases zset for most claims.
-- ctx: what the claims of one script call share (a new table per call: {outs = {}})
local function claim_node(wid, i, me, now, lease_until, now_iso, ctx)
  local k = nkey(wid, i)
  local m = wid .. '|' .. i
  local f = redis.call('HMGET', k, unpack(CLAIM_FIELDS))
  local st = f[1]
  if (not st) or is_final(st) then drop_lease(wid, i); return false end
  if st == 'pending' and f[2] ~= '1' then return false end
  local owner = f[9]
  if owner == '' then owner = nil end
  if owner and owner ~= me and owner ~= 'queued' then
    if tonumber(redis.call('ZSCORE', P .. ':leases', m) or '0') > now then return false end
  end
  local token = f[3]
  local w = {}
  if owner ~= me or not token then
    token = tonumber(token or '0') + 1
    w[1] = 'token'; w[2] = token
  end
  if owner ~= me then w[#w + 1] = 'owner'; w[#w + 1] = me end
  if #w > 0 then redis.call('HSET', k, unpack(w)) end
  local until_ = tonumber(lease_until)
  if not (owner == 'queued' and tonumber(f[10] or '0') - now > (until_ - now) / 2) then
    redis.call('ZADD', P .. ':leases', lease_until, m)
  end
  return claim_reply(claim_wf_status(wid, now_iso, ctx), f, token, wid, ctx)
end
-- ZADD of many score/member pairs, in slices (Lua's unpack has a stack limit)
local function zadd_many(key, pairs_)
  for s = 1, #pairs_, 400 do
    redis.call('ZADD', key, unpack(pairs_, s, math.min(s + 399, #pairs_)))
  end
end
-- a child of a node that just completed: its count of parents not yet complete goes down by one
-- and, when that reaches 0, it gets its lease (the entry is queued in ctx.leases for one ZADD),
-- taken by `me` at once (returns the claim) or queued for any worker (returns false); nil when it is
-- not made ready (the caller counts a ready one active). Only while the workflow is live (ctx.wst
-- set). A child with one parent is read and written once; one of several parents (`fanin`) only
-- counts down, and is read and written when the count reaches 0.
local CHILD_FIELDS = {'status', 'scheduled', 'token', 'parents', 'attempt', 'started_ts', 'retries', 'stop_sent',
                      'remaining'}
local function child_done(wid, c, lease_until, me, ctx, fanin)
  local k = nkey(wid, c)
  local f, left
  if fanin then
    left = redis.call('HINCRBY', k, 'remaining', -1)
    if left > 0 or not ctx.wst then return nil end
    f = redis.call('HMGET', k, unpack(CHILD_FIELDS))
    if not (f[1] == 'pending' and f[2] ~= '1') then return nil end
  else
    f = redis.call('HMGET', k, unpack(CHILD_FIELDS))
    left = tonumber(f[9] or '0') - 1
    if not (ctx.wst and left <= 0 and f[1] == 'pending' and f[2] ~= '1') then
      redis.call('HSET', k, 'remaining', left)
      return nil
    end
  end
  ctx.leases[#ctx.leases + 1] = lease_until
  ctx.leases[#ctx.leases + 1] = wid .. '|' .. c
  if not me then
    redis.call('HSET', k, 'remaining', left, 'scheduled', '1', 'owner', 'queued', 'queued_until', lease_until)
    return false
  end
  local token = tonumber(f[3] or '0') + 1
  redis.call('HSET', k, 'remaining', left, 'scheduled', '1', 'token', token, 'owner', me)
  return claim_reply(ctx.wst, f, token, wid, ctx)
end
-- a fenced write: '' is an unfenced caller (the API); anything else must be the node's token
local function stale(held, token) return token ~= '' and held ~= token end
"""

_SUBMIT = r"""
-- ARGV: P, wid, now_ts, now_iso, lease_until, nfields, k1, v1, ..., then one JSON array
-- [parents, children]: each a list, per node, of the node's parent (child) indexes
-- (one argument, no per-node work in the API: cheap at 10,000 nodes)
-- → false (the id is taken), or {dedicated (1: a dedicated worker serves the id), root, root, ...};
-- the submitting user's index gets the workflow too
local wid, now_ts, now_iso, lease_until = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = wfkey(wid)
if redis.call('EXISTS', k) == 1 then return false end
local nf = tonumber(ARGV[6])
local pos = 7 + 2 * nf
redis.call('HSET', k, unpack(ARGV, 7, pos - 1))
for f = 7, pos - 1, 2 do
  if ARGV[f] == 'user' then redis.call('ZADD', P .. ':user:' .. ARGV[f + 1], now_ts, wid) end
end
local edges = cjson.decode(ARGV[pos])
local parents, children = edges[1], edges[2]
local total = tonumber(redis.call('HGET', k, 'total'))
redis.call('HSET', k, 'done', '0', 'active', '0', 'failed', '0', 'cancelled', '0', 'created_ts', now_ts,
           'created_at', now_iso, 'updated_at', now_iso)
redis.call('ZADD', P .. ':index', now_ts, wid)
set_wf_status(wid, 'pending')
local out = {redis.call('EXISTS', P .. ':dedicated:' .. wid)}
local base = nkey(wid, '')
local concat = table.concat
for i = 0, total - 1 do
  local ps = parents[i + 1]
  local left = #ps
  local cs = children[i + 1]
  local fanin = {}  -- the children with more parents than this one
  for _, c in ipairs(cs) do if #parents[c + 1] > 1 then fanin[#fanin + 1] = c end end
  redis.call('HSET', base .. i, 'status', 'pending', 'scheduled', '0', 'attempt', '1', 'progress', '0',
             'retries', '0', 'parents', concat(ps, ','), 'children', concat(cs, ','), 'fanin', concat(fanin, ','),
             'remaining', left, 'token', '0', 'created_at', now_iso, 'updated_at', now_iso)
  if left == 0 then schedule(wid, i, lease_until, out) end
end
return out
"""

_CLAIM = r"""
-- ARGV: P, me, now, lease_until, now_iso, then per workflow: wid, n, i1, ..., in → per index: 0 (not
-- claimed), or 1 and its claim (8 values, see claim_node); a workflow's status and shared parents'
-- outputs are read once
local me, now, lease_until, now_iso = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local out = {}
local pos = 6
while pos <= #ARGV do
  local wid, n = ARGV[pos], tonumber(ARGV[pos + 1])
  local ctx = {outs = {}}
  for j = pos + 2, pos + 1 + n do
    local c = claim_node(wid, ARGV[j], me, now, lease_until, now_iso, ctx)
    if c then
      out[#out + 1] = 1
      for _, v in ipairs(c) do out[#out + 1] = v end
    else
      out[#out + 1] = 0
    end
  end
  pos = pos + 2 + n
end
return out
"""

_PATCH = r"""
-- ARGV: P, wid, i, allowed (comma list or ''), new_status (or ''), token (or ''), k1, v1, ...
-- → {1, previous status} | {0} (no such node, or status not allowed) | {-2} (stale token)
local wid, i = ARGV[2], ARGV[3]
local k = nkey(wid, i)
local f = redis.call('HMGET', k, 'status', 'token', 'scheduled')
local st = f[1]
if not st then return {0} end
if stale(f[2], ARGV[6]) then return {-2} end
if ARGV[4] ~= '' and not string.find(',' .. ARGV[4] .. ',', ',' .. st .. ',', 1, true) then return {0} end
local extra = {}
for pos = 7, #ARGV do extra[#extra + 1] = ARGV[pos] end
if ARGV[5] ~= '' and ARGV[5] ~= st then set_node(wid, i, ARGV[5], nil, st, f[3], extra)
elseif #extra > 0 then redis.call('HSET', k, unpack(extra)) end
pub_node(wid, i)
return {1, st}
"""

_NEW_ATTEMPT = r"""
-- ARGV: P, wid, i, token, now_iso, reason → {1, attempt} | {0, status} | {-2} (stale token)
local wid, i, now_iso = ARGV[2], ARGV[3], ARGV[5]
local k = nkey(wid, i)
local f = redis.call('HMGET', k, 'status', 'token')
if not f[1] then return {0, ''} end
if stale(f[2], ARGV[4]) then return {-2} end
if f[1] ~= 'running' and f[1] ~= 'pending' and f[1] ~= 'paused' then return {0, f[1]} end
local attempt = redis.call('HINCRBY', k, 'attempt', 1)
redis.call('HDEL', k, 'task_id', 'stop_sent', 'details')
redis.call('HSET', k, 'progress', '0', 'last_error', ARGV[6], 'updated_at', now_iso)
pub_node(wid, i)
return {1, attempt}
"""

_FINISH = r"""
-- ARGV: P, wid, i, status, now_ts, now_iso, retention, fail_fast, lease_until, wf_error, token, claim_as,
--       claim_max, k1, v1, ...
-- O(1) but for the children it schedules and the end of the workflow (counters, no scan).
-- claim_as (a worker id, or ''): that worker also claims up to claim_max of the children made
-- ready (no queue, no extra round trip); their claims are appended as in Store.claim.
-- The hot path reads the workflow's hash once and writes its counters back in one HSET.
local wid, i, status, now_ts, now_iso = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local retention, fail_fast, lease_until, wf_error = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local me, claim_max = ARGV[12], tonumber(ARGV[13])
local k = nkey(wid, i)
local nf = redis.call('HMGET', k, 'status', 'token', 'scheduled', 'children', 'fanin')
local st = nf[1]
if not st then return {0} end
if stale(nf[2], ARGV[11]) then return {-2} end
if is_final(st) then return {0} end
local wk = wfkey(wid)
local w = redis.call('HMGET', wk, 'status', 'total', 'active', 'done', 'failed', 'cancelled', 'bytes', 'failed_node')
local wst = w[1]
local wst0 = wst
local total = tonumber(w[2] or '0')
local n = {active = tonumber(w[3] or '0'), done = tonumber(w[4] or '0'), failed = tonumber(w[5] or '0'),
           cancelled = tonumber(w[6] or '0')}
-- the node itself: st is live, status final
if is_active(st, nf[3]) then n.active = n.active - 1 end
if COUNTER[status] then n[COUNTER[status]] = n[COUNTER[status]] + 1 end
local size = 0
local fields = {'status', status, 'finished_at', now_iso, 'updated_at', now_iso, 'owner', ''}
local ctx = {outs = {}, leases = {}}
if wst ~= 'pending' then ctx.wst = wst end  -- a pending one starts running with its first claim below
for pos = 14, #ARGV, 2 do
  fields[#fields + 1] = ARGV[pos]
  fields[#fields + 1] = ARGV[pos + 1]
  size = size + #ARGV[pos + 1]
  if ARGV[pos] == 'output' then ctx.outs[i] = ARGV[pos + 1] end
end
redis.call('HSET', k, unpack(fields))
local bytes = tonumber(w[7] or '0') + size
if size > 0 and wst0 and is_final(wst0) and redis.call('HEXISTS', P .. ':finished_size', wid) == 1 then
  redis.call('HINCRBY', P .. ':finished_size', wid, size)
  redis.call('INCRBY', P .. ':finished_bytes', size)
end
drop_lease(wid, i)
pub_node(wid, i)
local to_start, to_stop, claims = {}, {}, {}
local live = (wst == 'pending' or wst == 'running')
if status == 'complete' then
  if live and not ctx.wst then
    wst = claim_wf_status(wid, now_iso, ctx)
    wst0 = wst  -- the start is published there
  end
  if not live then ctx.wst = nil end  -- no child is scheduled
  local fanin = {}
  for c in string.gmatch(nf[5] or '', '%d+') do fanin[c] = true end
  for c in string.gmatch(nf[4] or '', '%d+') do
    local who = nil
    if me ~= '' and #claims < claim_max then who = me end
    local cl = child_done(wid, c, lease_until, who, ctx, fanin[c])
    if cl ~= nil then
      n.active = n.active + 1
      to_start[#to_start + 1] = c
      if cl then claims[#claims + 1] = cl end
    end
  end
  zadd_many(P .. ':leases', ctx.leases)
end
redis.call('HSET', wk, 'active', n.active, 'done', n.done, 'failed', n.failed, 'cancelled', n.cancelled,
           'bytes', bytes, 'updated_at', now_iso)
if status ~= 'complete' and live then
  if not w[8] then redis.call('HSET', wk, 'error', wf_error, 'failed_node', i) end
  if fail_fast == '1' then
    stop_live_nodes(wid, total, now_iso, to_stop)
    finish_wf(wid, 'failed', now_ts, now_iso, retention)
    wst = 'failed'
  end
end
if wst == 'pending' or wst == 'running' or wst == 'stopping' then
  if wst ~= 'stopping' and n.done == total then
    finish_wf(wid, 'complete', now_ts, now_iso, retention)
    wst = 'complete'
  elseif n.active <= 0 then
    if wst == 'stopping' then wst = 'cancelled' else wst = 'failed' end
    finish_wf(wid, wst, now_ts, now_iso, retention)
  end
end
if wst ~= wst0 or status == 'complete' then pub_wf(wid) end
-- whether a dedicated worker serves the workflow (saves Jobs.enqueue a round trip)
local dedicated = 0
if #to_start > #claims then dedicated = redis.call('EXISTS', P .. ':dedicated:' .. wid) end
local out = {1, wst, #to_start, dedicated, #to_stop, #claims}
for _, v in ipairs(to_start) do out[#out + 1] = v end
for _, v in ipairs(to_stop) do out[#out + 1] = v end
for _, cl in ipairs(claims) do for _, v in ipairs(cl) do out[#out + 1] = v end end
return out
"""

_CANCEL = r"""
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

_RETRY = r"""
-- ARGV: P, wid, now_iso, lease_until  (O(N + edges): rare, recomputes every remaining counter)
local wid, now_iso, lease_until = ARGV[2], ARGV[3], ARGV[4]
local wk = wfkey(wid)
local wst = redis.call('HGET', wk, 'status')
if not wst then return {-1} end
if wst ~= 'failed' and wst ~= 'cancelled' then return {0, wst} end
if tonumber(redis.call('HGET', wk, 'active') or '0') > 0 then return {0, 'stopping'} end
local total = tonumber(redis.call('HGET', wk, 'total') or '0')
for j = 0, total - 1 do
  local jk = nkey(wid, j)
  local sj = redis.call('HGET', jk, 'status')
  if sj == 'failed' or sj == 'cancelled' then
    set_node(wid, j, 'pending', '0')
    redis.call('HINCRBY', jk, 'attempt', 1)
    redis.call('HSET', jk, 'progress', '0', 'retries', '0', 'updated_at', now_iso)
    redis.call('HDEL', jk, 'error', 'output', 'task_id', 'started_at', 'started_ts', 'finished_at',
               'details', 'inputs', 'stop_sent')
    pub_node(wid, j)
  end
  redis.call('PERSIST', jk)
end
for j = 0, total - 1 do
  local jk = nkey(wid, j)
  if redis.call('HGET', jk, 'status') == 'pending' then
    local left = 0
    for p in string.gmatch(redis.call('HGET', jk, 'parents') or '', '%d+') do
      if redis.call('HGET', nkey(wid, p), 'status') ~= 'complete' then left = left + 1 end
    end
    redis.call('HSET', jk, 'remaining', left)
  end
end
redis.call('PERSIST', wk)
redis.call('ZREM', P .. ':finished', wid)
local b = redis.call('HGET', P .. ':finished_size', wid)
if b then
  redis.call('HDEL', P .. ':finished_size', wid)
  redis.call('DECRBY', P .. ':finished_bytes', b)
end
redis.call('HDEL', wk, 'finished_at', 'finished_ts', 'error', 'failed_node')
redis.call('HSET', wk, 'updated_at', now_iso)
set_wf_status(wid, 'running')
pub_wf(wid)
local out = {1}
for j = 0, total - 1 do schedule(wid, j, lease_until, out) end
return out
"""

_DELETE = r"""
-- ARGV: P, wid, status words... → {existed, finished history bytes after}
local wid = ARGV[2]
local wk = wfkey(wid)
local total = tonumber(redis.call('HGET', wk, 'total') or '0')
local existed = redis.call('EXISTS', wk)
for j = 0, total - 1 do
  redis.call('UNLINK', nkey(wid, j))
  drop_lease(wid, j)
end
local user = redis.call('HGET', wk, 'user')
if user then redis.call('ZREM', P .. ':user:' .. user, wid) end
redis.call('UNLINK', wk)
redis.call('ZREM', P .. ':index', wid)
redis.call('ZREM', P .. ':finished', wid)
for pos = 3, #ARGV do redis.call('ZREM', P .. ':status:' .. ARGV[pos], wid) end
local b = redis.call('HGET', P .. ':finished_size', wid)
if b then
  redis.call('HDEL', P .. ':finished_size', wid)
  redis.call('DECRBY', P .. ':finished_bytes', b)
end
if existed == 1 then redis.call('PUBLISH', P .. ':events:' .. wid, '{"t":"deleted"}') end
return {existed, tonumber(redis.call('GET', P .. ':finished_bytes') or '0')}
"""

_HEARTBEAT = r"""
-- ARGV: P, me, lease_until, members...  → members whose lease is no longer ours
local lost = {}
for pos = 4, #ARGV do
  local m = ARGV[pos]
  local wid, i = string.match(m, '^(.*)|(%d+)$')
  local owner = wid and redis.call('HGET', nkey(wid, i), 'owner')
  if owner == ARGV[2] then
    redis.call('ZADD', P .. ':leases', ARGV[3], m)
  elseif owner and owner ~= '' then
    lost[#lost + 1] = m  -- another worker holds it now (no owner: the node just ended)
  end
end
return lost
"""

_RELEASE = r"""
-- ARGV: P, me, members...  → make our leases expire now, so another worker takes over at once
for pos = 3, #ARGV do
  local m = ARGV[pos]
  local wid, i = string.match(m, '^(.*)|(%d+)$')
  if wid and redis.call('HGET', nkey(wid, i), 'owner') == ARGV[2] then
    redis.call('ZADD', P .. ':leases', 0, m)
  end
end
return 1
"""


# the store's Lua programs by name, each run after `_LUA_COMMON` (see `orchestrator.lualib`)
PROGRAMS = {"submit": _SUBMIT, "claim": _CLAIM, "patch": _PATCH, "new_attempt": _NEW_ATTEMPT, "finish": _FINISH,
            "cancel": _CANCEL, "retry": _RETRY, "delete": _DELETE, "heartbeat": _HEARTBEAT, "release": _RELEASE}


class LeaseLost(Exception):
    """A fenced write was refused: another worker took the node over (its token is newer).

    The worker that gets it must stop driving the node at once and write nothing more to it.
    """

    def __init__(self, workflow_id: str, index: int) -> None:
        super().__init__(f"lease of {workflow_id}|{index} lost to a newer owner")
        self.workflow_id = workflow_id
        self.index = index


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
    token: int = 0  # the fencing token every write of this owner carries (grows with each takeover)


@dataclass
class FinishResult:
    changed: bool
    workflow_status: str = ""
    to_start: list[int] | None = None
    to_stop: list[int] | None = None
    dedicated: bool = False  # a dedicated worker serves the workflow (known when some of to_start are queued)
    claims: list[Claim] = field(default_factory=list)  # the first of to_start, claimed for `claim_as`

    @property
    def claim(self) -> Claim | None:
        """The first child claimed for `claim_as` (None: not asked, or none ready)."""
        return self.claims[0] if self.claims else None

    @property
    def queued(self) -> list[int]:
        """Children made ready and not claimed by the caller: for any worker (an RQ job)."""
        return (self.to_start or [])[len(self.claims):]


# what a workflow and each node hash cost in Redis besides the spec and the values the nodes
# store (keys, field names, hash encoding, index entries), measured with `INFO memory` on
# finished diamonds (~11 KB each in all): counted into a workflow's byte size, so retention
# by bytes comes close to the memory the finished history really takes
WORKFLOW_OVERHEAD_BYTES = 2000
NODE_OVERHEAD_BYTES = 1800


def task_id_for(workflow_id: str, run: str, index: int, container: str, operation: str,
                attempt: int) -> str:
    """Unique per workflow run, vertex and attempt; readable; at most 200 characters."""
    tid = f"{workflow_id}.{run}.{index}.{container}.{operation}.a{attempt}"
    if len(tid) > 200:
        tid = f"{workflow_id[:120]}.{run}.{index}.{uuid.uuid5(uuid.NAMESPACE_URL, tid).hex}.a{attempt}"
    return tid


def _token_arg(token: int | None) -> str:
    return "" if token is None else str(int(token))


class Store:
    """Synchronous access to the orchestrator's Redis keys (API, RQ jobs, worker monitor).

    Fencing: `claim` returns `Claim.token`; a worker passes it to `patch`, `finish` and
    `new_attempt`, which raise `LeaseLost` when a newer owner holds the node. `token=None`
    is an unfenced write, for callers that hold no lease (the API, a stop sent for a node
    another worker drives).
    """

    def __init__(self, client: redis.Redis, prefix: str = "orch") -> None:
        self.r = client
        self.p = prefix
        self.lua = LuaLibrary(client, _LUA_COMMON, PROGRAMS)
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

    @property
    def finished_bytes_key(self) -> str:
        """Total byte size of the finished workflows still stored (retention by bytes)."""
        return f"{self.p}:finished_bytes"

    def dedicated_key(self, wid: str) -> str:
        return f"{self.p}:dedicated:{wid}"

    def user_key(self, user: str) -> str:
        """Index of the workflows `user` submitted."""
        return f"{self.p}:user:{user}"

    def events_channel(self, wid: str) -> str:
        """Pub/sub channel of the workflow's change messages (see the module docstring)."""
        return f"{self.p}:events:{wid}"

    # workflows --------------------------------------------------------------
    @staticmethod
    def new_run() -> str:
        """A workflow run's id: a workflow deleted and submitted again under its id gets a new one."""
        return uuid.uuid4().hex[:8]

    def create(self, wid: str, spec: dict[str, Any], total: int, parents: list[list[int]],
               children: list[list[int]], lease_until: float,
               services_api_key: str | None = None, user: str | None = None,
               run: str | None = None) -> list[int] | None:
        """Store a new workflow; None if the id is taken. Returns the root vertices to start."""
        made = self.create_run(wid, spec, total, parents, children, lease_until, services_api_key, user, run)
        return None if made is None else made[0]

    def create_run(self, wid: str, spec: dict[str, Any], total: int, parents: list[list[int]],
                   children: list[list[int]], lease_until: float,
                   services_api_key: str | None = None, user: str | None = None,
                   run: str | None = None) -> tuple[list[int], bool] | None:
        """`create`, also saying whether a dedicated worker serves the id (where its roots are queued).

        `run` (default: a new one) tells this run apart from an earlier workflow of the same id.
        The spec and the edges are written by orjson in one call each (megabytes at 10,000 nodes);
        the user's index entry is written by the same script."""
        raw_spec = orjson.dumps(spec)
        fields: dict[str, Any] = {"workflow_id": wid, "run": run or self.new_run(), "total": str(total),
                                  "spec": raw_spec}
        name = (spec.get("graph") or {}).get("name")
        if name:
            fields["name"] = str(name)
        if services_api_key:
            fields["services_api_key"] = services_api_key
        if user:
            fields["user"] = user
        created = time.time()
        argv: list[Any] = [self.p, wid, repr(created), now_iso(), repr(lease_until), 0]
        raw_edges = orjson.dumps([parents, children])
        fields["bytes"] = str(len(raw_spec) + len(raw_edges) + WORKFLOW_OVERHEAD_BYTES + NODE_OVERHEAD_BYTES * total)
        argv[5] = len(fields)
        for k, v in fields.items():
            argv += [k, v]
        argv.append(raw_edges)
        res = self.lua.call("submit", argv)
        if res is None:
            return None
        return [int(x) for x in res[1:]], bool(int(res[0]))

    def workflow(self, wid: str) -> dict[str, Any] | None:
        h = self.r.hgetall(self.wf_key(wid))
        return h or None

    def counters(self, wid: str) -> dict[str, int]:
        """The workflow's node counters kept by the scripts: total, active, done, failed, cancelled."""
        names = ("total", "active", "done", "failed", "cancelled")
        return {k: int(v or 0) for k, v in zip(names, self.r.hmget(self.wf_key(wid), names))}

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

    def _root_inputs(self, wid: str) -> str:
        spec = self.spec(wid)
        inputs = ((spec[1] if spec else {}) or {}).get("inputs") or []
        return json.dumps([x for x in inputs if x is not None], separators=(",", ":"))

    @staticmethod
    def _inputs_from(parents: str, output_of: Callable[[int], str | None], root: Callable[[], str]) -> str:
        """A started node's inputs: its parents' stored outputs (each stored once, on its parent)."""
        if not parents:
            return root()
        outs = [output_of(int(p)) for p in parents.split(",") if p]
        return "[" + ",".join(o for o in outs if o is not None and o != "null") + "]"

    def nodes(self, wid: str, total: int) -> list[dict[str, Any]]:
        """Every node's hash; a started node also shows `inputs` (built from its parents' outputs)."""
        pipe = self.r.pipeline(transaction=False)
        for i in range(total):
            pipe.hgetall(self.node_key(wid, i))
        nodes: list[dict[str, Any]] = pipe.execute()
        root: list[str] = []

        def root_inputs() -> str:
            if not root:
                root.append(self._root_inputs(wid))
            return root[0]

        def output_of(p: int) -> str | None:
            return nodes[p].get("output") if 0 <= p < len(nodes) else None
        for n in nodes:
            if n.get("task_id") and "inputs" not in n:
                n["inputs"] = self._inputs_from(n.get("parents", ""), output_of, root_inputs)
        return nodes

    def node(self, wid: str, i: int) -> dict[str, Any]:
        """One node's hash, with `inputs` as in `nodes`."""
        n: dict[str, Any] = self.r.hgetall(self.node_key(wid, i))
        if n.get("task_id") and "inputs" not in n:
            parents = [int(p) for p in (n.get("parents") or "").split(",") if p]
            outs: dict[int, str | None] = {}
            if parents:
                pipe = self.r.pipeline(transaction=False)
                for p in parents:
                    pipe.hget(self.node_key(wid, p), "output")
                outs = dict(zip(parents, pipe.execute()))
            n["inputs"] = self._inputs_from(n.get("parents", ""), outs.get, lambda: self._root_inputs(wid))
        return n

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

    def _drop(self, wid: str) -> tuple[bool, int]:
        """Delete a workflow's keys and index entries: (it existed, finished history bytes after)."""
        existed, left = self.lua.call("delete", [self.p, wid, *(s.value for s in TaskStatus)])
        self.forget_spec(wid)
        return bool(int(existed)), int(left)

    def delete(self, wid: str) -> bool:
        return self._drop(wid)[0]

    # transitions ------------------------------------------------------------
    def claim(self, wid: str, i: int, me: str, lease_ttl: float) -> Claim | None:
        """Take the node's lease; a new owner gets a new (greater) fencing token."""
        return self.claim_many(wid, [i], me, lease_ttl)[0]

    def claim_many(self, wid: str, indexes: list[int], me: str, lease_ttl: float) -> list[Claim | None]:
        """`claim` for several nodes of one workflow in one script call (a chunk of a fan-out)."""
        return self.claim_batch([(wid, indexes)], me, lease_ttl)

    def claim_batch(self, groups: list[tuple[str, list[int]]], me: str, lease_ttl: float) -> list[Claim | None]:
        """`claim` for nodes of several workflows (`(workflow id, indexes)` each) in one script call;
        one result per index, in order."""
        now = time.time()
        argv: list[Any] = [self.p, me, repr(now), repr(now + lease_ttl), now_iso()]
        for wid, indexes in groups:
            if indexes:
                argv += [wid, len(indexes), *indexes]
        if len(argv) == 5:
            return []
        res = self.lua.call("claim", argv)
        out: list[Claim | None] = []
        pos = 0
        for wid, indexes in groups:
            for i in indexes:
                if int(res[pos]) == 1:
                    out.append(self._claim_from(wid, i, res[pos + 1:pos + 9]))
                    pos += 9
                else:
                    out.append(None)
                    pos += 1
        return out

    @staticmethod
    def _claim_from(wid: str, i: int | str, res: list[Any]) -> Claim:
        wst, st, attempt, started_ts, retries, stop_sent, outs, token = res
        return Claim(wid, int(i), wst, st, int(attempt), float(started_ts) if started_ts else None,
                     int(retries), bool(stop_sent), json.loads(outs), int(token))

    def patch(self, wid: str, i: int, fields: dict[str, Any], allowed: tuple[str, ...] = (),
              new_status: str = "", token: int | None = None) -> str | None:
        """Write node fields (and maybe its status): the status before, or None when the node is
        gone or not in `allowed`. Raises `LeaseLost` when `token` is stale."""
        argv: list[Any] = [self.p, wid, i, ",".join(allowed), new_status, _token_arg(token)]
        for k, v in fields.items():
            argv += [k, v]
        res = self.lua.call("patch", argv)
        code = int(res[0])
        if code == -2:
            raise LeaseLost(wid, int(i))
        return res[1] if code == 1 else None

    def new_attempt(self, wid: str, i: int, token: int, reason: str) -> int:
        """Restart a running (or pending) node as a new attempt (a new task id), e.g. after its
        service lost the task. Returns the new attempt number, 0 when the node is no longer
        live. Raises `LeaseLost` when `token` is stale."""
        res = self.lua.call("new_attempt", [self.p, wid, i, _token_arg(token), now_iso(), reason])
        code = int(res[0])
        if code == -2:
            raise LeaseLost(wid, int(i))
        return int(res[1]) if code == 1 else 0

    def finish(self, wid: str, i: int, status: str, fields: dict[str, Any], *, retention: float,
               fail_fast: bool, lease_ttl: float, wf_error: str = "", token: int | None = None,
               claim_as: str | None = None, claim_max: int = 1) -> FinishResult:
        """End a node and advance its workflow; with `claim_as`, that worker also claims up to
        `claim_max` of the children made ready (`FinishResult.claims`, the first ones of `to_start`).
        Raises `LeaseLost` when `token` is stale."""
        now = time.time()
        argv: list[Any] = [self.p, wid, i, status, repr(now), now_iso(), repr(retention),
                           "1" if fail_fast else "0", repr(now + lease_ttl), wf_error, _token_arg(token),
                           claim_as or "", claim_max]
        for k, v in fields.items():
            argv += [k, v]
        res = self.lua.call("finish", argv)
        if res and int(res[0]) == -2:
            raise LeaseLost(wid, int(i))
        if not res or int(res[0]) == 0:
            return FinishResult(False)
        n_start, n_stop, n_claims = int(res[2]), int(res[4]), int(res[5])
        ids = [int(x) for x in res[6:6 + n_start + n_stop]]
        claimed = res[6 + n_start + n_stop:]
        if res[1] in ("complete", "failed", "cancelled"):
            self.forget_spec(wid)
        claims = [self._claim_from(wid, ids[k], claimed[8 * k:8 * k + 8]) for k in range(n_claims)]
        return FinishResult(True, res[1], ids[:n_start], ids[n_start:], bool(int(res[3])), claims)

    def cancel(self, wid: str, retention: float) -> tuple[int, str, list[int]]:
        """(1 cancelled | 0 not running | -1 unknown, new status, nodes to stop)."""
        res = self.lua.call("cancel", [self.p, wid, repr(time.time()), now_iso(), repr(retention)])
        code = int(res[0])
        if code <= 0:
            return code, (res[1] if len(res) > 1 else ""), []
        return 1, res[1], [int(x) for x in res[2:]]

    def retry(self, wid: str, lease_ttl: float) -> tuple[int, str, list[int]]:
        res = self.lua.call("retry", [self.p, wid, now_iso(), repr(time.time() + lease_ttl)])
        code = int(res[0])
        if code <= 0:
            return code, (res[1] if len(res) > 1 else ""), []
        self.forget_spec(wid)
        return 1, "running", [int(x) for x in res[1:]]

    def heartbeat(self, me: str, members: list[str], lease_ttl: float) -> list[str]:
        if not members:
            return []
        return list(self.lua.call("heartbeat", [self.p, me, repr(time.time() + lease_ttl), *members]))

    def release(self, me: str, members: list[str]) -> None:
        if members:
            self.lua.call("release", [self.p, me, *members])

    def expired_leases(self, limit: int = 200) -> list[str]:
        return self.r.zrangebyscore(self.leases_key, "-inf", repr(time.time()), start=0, num=limit)

    def queued_members(self, wid: str) -> list[str]:
        """Lease members of `wid` scheduled but not yet claimed by any worker."""
        total = int(self.r.hget(self.wf_key(wid), "total") or 0)
        if not total:
            return []
        pipe = self.r.pipeline(transaction=False)
        for i in range(total):
            pipe.hget(self.node_key(wid, i), "owner")
        return [f"{wid}|{i}" for i, o in enumerate(pipe.execute()) if o == "queued"]

    def lease_owner(self, wid: str, i: int | str) -> str | None:
        """The worker holding node i's lease, "queued" while no worker claimed it, None once it ended."""
        return self.r.hget(self.node_key(wid, i), "owner") or None

    # retention ----------------------------------------------------------------
    def finished_bytes(self) -> int:
        """Byte size of the finished history (spec + node overhead + stored outputs, errors, details)."""
        return int(self.r.get(self.finished_bytes_key) or 0)

    def prune(self, retention: float, max_finished: int, max_bytes: int | None = None,
              batch: int = 1000) -> int:
        """Drop finished workflows older than `retention`, beyond `max_finished`, and the oldest
        while the finished history holds more than `max_bytes`. At most about `batch` per call."""
        fin = f"{self.p}:finished"
        old = self.r.zrangebyscore(fin, "-inf", repr(time.time() - retention), start=0, num=batch)
        excess = self.r.zcard(fin) - len(old) - max_finished
        if excess > 0:
            seen = set(old)
            old += [w for w in self.r.zrange(fin, 0, min(excess, batch) - 1) if w not in seen]
        for wid in old:
            self._drop(wid)
        dropped = len(old)
        if max_bytes is None:
            return dropped
        left = self.finished_bytes()
        while left > max_bytes and dropped < 2 * batch:
            oldest = self.r.zrange(fin, 0, 49)
            if not oldest:
                break
            for wid in oldest:
                _, left = self._drop(wid)
                dropped += 1
                if left <= max_bytes:
                    break
        return dropped
