//! The Lua scripts of the Redis queue: each multi-key step runs atomically on the server.
//! Every script starts with `PRELUDE` and takes the prefix, the group and the time first.

use deadpool_redis::redis::Script;

/// Functions every script shares. ARGV[1] is the prefix, ARGV[2] the group, ARGV[3] now (ms).
const PRELUDE: &str = r#"
local P = ARGV[1]
local lost = {}
local group = ARGV[2]
local now = tonumber(ARGV[3])
local stream = P .. 'stream'
local function release_dedup(key, id)
  local dedup = redis.call('HGET', key, 'dedup')
  if dedup and dedup ~= '' and redis.call('GET', dedup) == id then
    redis.call('DEL', dedup)
  end
end
local function drop_entry(entry)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
end
local function bury(key, id, entry, err)
  drop_entry(entry)
  release_dedup(key, id)
  redis.call('HSET', key, 'last_error', err, 'dead_at', now)
  redis.call('HDEL', key, 'entry')
  redis.call('ZADD', P .. 'dead', now, id)
end
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
-- Starts a delivery of stream entry `entry` (job `id`); nil when there is nothing to run.
local function start(entry, id, max_attempts)
  if not id then
    drop_entry(entry)
    return nil
  end
  local key = P .. 'job:' .. id
  if redis.call('EXISTS', key) == 0 then
    drop_entry(entry)
    return nil
  end
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  if attempts > max_attempts then
    local previous = redis.call('HGET', key, 'last_error') or 'none'
    redis.call('HSET', key, 'attempts', attempts - 1)
    local err = 'lease expired on the last attempt (worker lost); previous error: ' .. previous
    bury(key, id, entry, err)
    local f = redis.call('HMGET', key, 'kind', 'payload')
    table.insert(lost, {id, f[1] or '', f[2] or '', attempts - 1, err, now})
    return nil
  end
  redis.call('HSET', key, 'entry', entry)
  -- Started, the job gives its dedup key up: an enqueue while it runs makes a follow-up.
  release_dedup(key, id)
  local f = redis.call('HMGET', key, 'kind', 'payload', 'enqueued_at')
  return {id, entry, f[1] or '', f[2] or '', attempts, tonumber(f[3] or '0')}
end
"#;

/// ARGV[4] id, [5] kind, [6] payload, [7] ready at (ms), [8] dedup key name or ''.
const ENQUEUE: &str = r#"
local id = ARGV[4]
local dedup = ARGV[8]
if dedup ~= '' then
  local existing = redis.call('GET', dedup)
  if existing and redis.call('EXISTS', P .. 'job:' .. existing) == 1 then
    return existing
  end
  redis.call('SET', dedup, id)
end
redis.call('HSET', P .. 'job:' .. id, 'kind', ARGV[5], 'payload', ARGV[6], 'attempts', 0,
  'enqueued_at', now, 'dedup', dedup)
local ready = tonumber(ARGV[7])
if ready > now then
  redis.call('ZADD', P .. 'delayed', ready, id)
else
  redis.call('XADD', stream, '*', 'id', id)
end
return id
"#;

/// ARGV[4] consumer, [5] max jobs, [6] visibility timeout (ms), [7] max attempts.
/// Promotes due delayed jobs, reclaims expired leases, reads new entries; returns
/// {deliveries, next delayed due time or -1}.
const RESERVE: &str = r#"
local consumer = ARGV[4]
local max = tonumber(ARGV[5])
local max_attempts = tonumber(ARGV[7])
local delayed = P .. 'delayed'
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', delayed, id)
  if redis.call('EXISTS', P .. 'job:' .. id) == 1 then
    redis.call('XADD', stream, '*', 'id', id)
  end
end
local out = {}
local cursor = redis.call('GET', P .. 'cursor') or '0-0'
local claimed = redis.call('XAUTOCLAIM', stream, group, consumer, ARGV[6], cursor, 'COUNT', max)
redis.call('SET', P .. 'cursor', claimed[1])
for _, e in ipairs(claimed[2]) do
  if e and e[2] then
    local d = start(e[1], field(e[2], 'id'), max_attempts)
    if d then table.insert(out, d) end
  end
end
if #out < max then
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #out,
    'STREAMS', stream, '>')
  if read then
    for _, e in ipairs(read[1][2]) do
      local d = start(e[1], field(e[2], 'id'), max_attempts)
      if d then table.insert(out, d) end
    end
  end
end
local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
local next_due = -1
if head[2] then next_due = tonumber(head[2]) end
return {out, next_due, lost}
"#;

/// ARGV[4] max attempts, then pairs of (entry, id) read by a blocking XREADGROUP.
const START: &str = r#"
local out = {}
for i = 5, #ARGV, 2 do
  local d = start(ARGV[i], ARGV[i + 1], tonumber(ARGV[4]))
  if d then table.insert(out, d) end
end
return {out, -1, lost}
"#;

/// ARGV[4] id, [5] entry.
const ACK: &str = r#"
local id = ARGV[4]
local key = P .. 'job:' .. id
local current = redis.call('HGET', key, 'entry')
release_dedup(key, id)
redis.call('DEL', key)
redis.call('ZREM', P .. 'delayed', id)
drop_entry(ARGV[5])
if current and current ~= ARGV[5] then drop_entry(current) end
return 1
"#;

/// ARGV[4] id, [5] entry, [6] attempt, [7] error, [8] retry at (ms) or -1 to dead-letter.
/// Returns 0 when stale, 1 when retried, 2 when dead-lettered.
const NACK: &str = r#"
local id = ARGV[4]
local key = P .. 'job:' .. id
if redis.call('HGET', key, 'attempts') ~= ARGV[6] or redis.call('HGET', key, 'entry') ~= ARGV[5] then
  return 0
end
local retry_at = tonumber(ARGV[8])
if retry_at < 0 then
  bury(key, id, ARGV[5], ARGV[7])
  return 2
end
drop_entry(ARGV[5])
redis.call('HSET', key, 'last_error', ARGV[7])
redis.call('HDEL', key, 'entry')
redis.call('ZADD', P .. 'delayed', retry_at, id)
-- Waiting again, the job takes its dedup key back unless a waiting follow-up holds it.
local dedup = redis.call('HGET', key, 'dedup')
if dedup and dedup ~= '' then
  local holder = redis.call('GET', dedup)
  if not holder or redis.call('EXISTS', P .. 'job:' .. holder) == 0 then
    redis.call('SET', dedup, id)
  end
end
return 1
"#;

/// ARGV[4] id, [5] entry, [6] attempt, [7] consumer. Resets the entry's idle time.
const HEARTBEAT: &str = r#"
local key = P .. 'job:' .. ARGV[4]
if redis.call('HGET', key, 'attempts') ~= ARGV[6] or redis.call('HGET', key, 'entry') ~= ARGV[5] then
  return 0
end
redis.call('XCLAIM', stream, group, ARGV[7], 0, ARGV[5], 'JUSTID')
return 1
"#;

/// ARGV[4] limit.
const DEAD: &str = r#"
local ids = redis.call('ZREVRANGE', P .. 'dead', 0, tonumber(ARGV[4]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
  local f = redis.call('HMGET', P .. 'job:' .. ids[i], 'kind', 'payload', 'attempts', 'last_error')
  table.insert(out, {ids[i], f[1] or '', f[2] or '', tonumber(f[3] or '0'), f[4] or '', tonumber(ids[i + 1])})
end
return out
"#;

/// ARGV[4] id.
const REQUEUE: &str = r#"
local id = ARGV[4]
if redis.call('ZREM', P .. 'dead', id) == 0 then return 0 end
local key = P .. 'job:' .. id
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'attempts', 0)
redis.call('HDEL', key, 'dead_at')
redis.call('XADD', stream, '*', 'id', id)
return 1
"#;

/// Since when (UNIX ms) the longest-waiting job is ready: the first stream entry the group has
/// not delivered yet (its id is the ms it entered the stream), or a delayed job already due and
/// not yet moved into the stream, whichever is older; false when none waits. A delivered job
/// whose worker died is not counted while it sits in the group's pending list, until
/// XAUTOCLAIM hands it to another worker.
const OLDEST: &str = r#"
if redis.call('EXISTS', stream) == 0 then
  return redis.error_reply('NOGROUP the stream is missing')
end
local since = false
local last = nil
for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, delivered = nil, nil
  for i = 1, #info, 2 do
    if info[i] == 'name' then name = info[i + 1] end
    if info[i] == 'last-delivered-id' then delivered = info[i + 1] end
  end
  if name == group then last = delivered end
end
if last == nil then
  return redis.error_reply('NOGROUP the consumer group is missing')
end
local next = redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', 1)
if #next > 0 then
  since = tonumber(string.match(next[1][1], '^(%d+)'))
end
local due = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
if #due > 0 then
  local at = tonumber(due[2])
  if not since or at < since then since = at end
end
return since
"#;

pub(super) struct Scripts {
    pub(super) enqueue: Script,
    pub(super) reserve: Script,
    pub(super) start: Script,
    pub(super) ack: Script,
    pub(super) nack: Script,
    pub(super) heartbeat: Script,
    pub(super) dead: Script,
    pub(super) requeue: Script,
    pub(super) oldest: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            enqueue: script(ENQUEUE),
            reserve: script(RESERVE),
            start: script(START),
            ack: script(ACK),
            nack: script(NACK),
            heartbeat: script(HEARTBEAT),
            dead: script(DEAD),
            requeue: script(REQUEUE),
            oldest: script(OLDEST),
        }
    }
}
