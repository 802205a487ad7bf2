-- fail records a failed attempt: it retries with backoff, dies, honours a
-- provider rate limit, parks the request for a human, ends it canceled, or
-- hands it back untouched at shutdown. A stale lease is rejected.
--
-- KEYS[1]  -> llmq:{ns}:req:<id>
-- KEYS[2]  -> llmq:{ns}:active
-- KEYS[3]  -> llmq:{ns}:budget:log
-- KEYS[4]  -> llmq:{ns}:budget:sum
-- KEYS[5]  -> llmq:{ns}:stats
-- KEYS[6]  -> llmq:{ns}:scheduled
-- KEYS[7]  -> llmq:{ns}:dead
-- KEYS[8]  -> llmq:{ns}:suspended
-- KEYS[9]  -> llmq:{ns}:cooldown
-- KEYS[10] -> llmq:{ns}:q:low
-- KEYS[11] -> llmq:{ns}:q:medium
-- KEYS[12] -> llmq:{ns}:q:long
-- ARGV[1]  -> request id
-- ARGV[2]  -> lease token
-- ARGV[3]  -> kind: retry | permanent | ratelimit | suspend | canceled | release
-- ARGV[4]  -> error message (or suspend reason)
-- ARGV[5]  -> backoff ms (retry) or retry-after ms (ratelimit)
-- ARGV[6]  -> real tokens used (-1 keeps the estimate)
-- ARGV[7]  -> budget window ms
-- ARGV[8]  -> retention ms
-- ARGV[9]  -> pub/sub channel ("" = none)
-- ARGV[10] -> most rate-limit requeues before the request dies
-- ARGV[11] -> suspend state
--
-- Returns the request's new status, or the error "STALE".
local key, id, kind = KEYS[1], ARGV[1], ARGV[3]
if not owns(key, ARGV[2]) then
  -- The same ack again (a client retry after a lost reply) is not stale.
  if redis.call('HGET', key, 'lt') == ARGV[2] then return redis.call('HGET', key, 'status') end
  return redis.error_reply('STALE')
end
redis.call('HSET', key, 'lt', ARGV[2])
local now = now_ms()
local delay = tonumber(ARGV[5]) or 0
local retention = tonumber(ARGV[8])
local channel = ARGV[9]
reconcile(KEYS[3], KEYS[4], key, tonumber(ARGV[6]), now, tonumber(ARGV[7]))
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', key, 'lease')
local f = redis.call('HMGET', key, 'att', 'maxr', 'prio', 'rl', 'cxl')
local att, maxr = tonumber(f[1]) or 0, tonumber(f[2]) or 0
local q = queue_for(f[3], KEYS[10], KEYS[11], KEYS[12])

local function die(msg)
  redis.call('HSET', key, 'err', msg)
  redis.call('ZADD', KEYS[7], now, id)
  finish(key, id, 'dead', KEYS[5], 'failed', retention, channel, now)
  return 'dead'
end

if f[5] == '1' or kind == 'canceled' then
  finish(key, id, 'canceled', KEYS[5], 'canceled', retention, channel, now)
  return 'canceled'
end
if kind == 'permanent' then
  return die(ARGV[4])
end
if kind == 'ratelimit' then
  -- A 429 does not spend a retry; the cap stops an endless loop.
  if delay > 0 then
    local until_ms = now + delay
    local cur = tonumber(redis.call('GET', KEYS[9]) or '0') or 0
    if until_ms > cur then
      redis.call('SET', KEYS[9], until_ms, 'PX', delay + 1000)
    end
  end
  local rl = redis.call('HINCRBY', key, 'rl', 1)
  if rl > (tonumber(ARGV[10]) or 0) then
    return die('rate limited ' .. rl .. ' times: ' .. ARGV[4])
  end
  redis.call('HSET', key, 'att', math.max(0, att - 1), 'status', 'queued', 'ut', now, 'err', ARGV[4])
  redis.call('HINCRBY', KEYS[5], (f[3] or 'low') .. '_ratelimited', 1)
  redis.call('LPUSH', q, id)
  return 'queued'
end
if kind == 'suspend' then
  redis.call('HSET', key, 'status', 'suspended', 'ut', now, 'reason', ARGV[4], 'state', ARGV[11])
  redis.call('HDEL', key, 'input')
  redis.call('ZADD', KEYS[8], now, id)
  if channel ~= '' then redis.call('PUBLISH', channel, id .. ' suspended') end
  return 'suspended'
end
if kind == 'release' then
  -- Shutdown interrupted the attempt; it was not the request's fault.
  redis.call('HSET', key, 'att', math.max(0, att - 1), 'status', 'queued', 'ut', now)
  redis.call('LPUSH', q, id)
  return 'queued'
end
-- retry
if att > maxr then
  return die(ARGV[4])
end
redis.call('HSET', key, 'status', 'retrying', 'ut', now, 'err', ARGV[4])
redis.call('HINCRBY', KEYS[5], (f[3] or 'low') .. '_retried', 1)
redis.call('ZADD', KEYS[6], now + delay, id)
return 'retrying'
