-- fail records a failed attempt: it retries with backoff, dies, honours a
-- provider rate limit, parks the request for a human, ends it canceled, or
-- hands it back untouched at shutdown. A stale lease is rejected.
--
-- KEYS[1]  -> llmq:{ns}:req:<id>
-- KEYS[2]  -> llmq:{ns}:active
-- KEYS[3]  -> llmq:{ns}:budget:log     (the ledger: see ledger in lib.lua)
-- KEYS[4]  -> llmq:{ns}:budget:sum
-- KEYS[5]  -> llmq:{ns}:budget:isum
-- KEYS[6]  -> llmq:{ns}:budget:osum
-- KEYS[7]  -> llmq:{ns}:budget:daylog
-- KEYS[8]  -> llmq:{ns}:budget:daysum
-- KEYS[9]  -> llmq:{ns}:stats
-- KEYS[10] -> llmq:{ns}:scheduled
-- KEYS[11] -> llmq:{ns}:dead
-- KEYS[12] -> llmq:{ns}:suspended
-- KEYS[13] -> llmq:{ns}:cooldown
-- KEYS[14] -> llmq:{ns}:q:low
-- KEYS[15] -> llmq:{ns}:q:medium
-- KEYS[16] -> llmq:{ns}:q:long
-- KEYS[17] -> llmq:{ns}:leaseseq      (numbers the provider's bookings)
-- ARGV[1]  -> request id
-- ARGV[2]  -> lease token
-- ARGV[3]  -> kind: retry | permanent | ratelimit | failover | suspend | canceled | release
--             (failover: the deployment failed, not the request: it cools
--             down for ARGV[5] and the request goes back to the head of its
--             queue for another deployment, without spending a retry, at
--             most ARGV[12] times; after that it is retried like "retry")
-- ARGV[4]  -> error message (or suspend reason)
-- ARGV[5]  -> backoff ms (retry) or retry-after ms (ratelimit)
-- ARGV[6]  -> settled tokens (-1 keeps the reservation)
-- ARGV[7]  -> settled input tokens
-- ARGV[8]  -> settled output tokens
-- ARGV[9]  -> budget window ms
-- ARGV[10] -> retention ms
-- ARGV[11] -> pub/sub channel ("" = none)
-- ARGV[12] -> most rate-limit requeues before the request dies
-- ARGV[13] -> suspend state
-- ARGV[14..21] -> the provider's feedback: limit and remaining of tokens,
--               requests, input tokens, output tokens (see complete.lua)
--
-- Every number is checked before the first write ("BADARG" changes
-- nothing). Returns the request's new status, or the error "STALE".
local key, id, kind = KEYS[1], ARGV[1], ARGV[3]
local delay, settled = tonumber(ARGV[5]), tonumber(ARGV[6])
local window, retention, max_rl = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[12])
local fb = read_feedback(14)
if not delay or not window or not retention or not max_rl or not fb
    or (settled ~= -1 and not valid_count(settled))
    or not valid_count(tonumber(ARGV[7])) or not valid_count(tonumber(ARGV[8])) then
  return redis.error_reply('BADARG fail: a number is missing or out of range')
end
local held, ec, sk = owns(key, ARGV[2], 'ec', 'sk')
if not held then
  -- The same ack again (a client retry after a lost reply) is not stale.
  if redis.call('HGET', key, 'lt') == ARGV[2] then return redis.call('HGET', key, 'status') end
  return redis.error_reply('STALE')
end
redis.call('HSET', key, 'lt', ARGV[2])
local now = now_ms()
local channel = ARGV[11]
local L = ledger(3)
trim(L, now, window, false)
settle(L, key, settled, tonumber(ARGV[7]), tonumber(ARGV[8]), now, window)
if settled ~= -1 then
  -- The reservation was given back (the provider did not take the call):
  -- so is the spend reserved for it.
  true_up_spend(key, 0, ec, sk)
end
feedback(L, KEYS[17], now, fb)
redis.call('ZREM', KEYS[2], id)
redis.call('HDEL', key, 'lease')
local f = redis.call('HMGET', key, 'att', 'maxr', 'prio', 'rl', 'cxl')
local att, maxr = tonumber(f[1]) or 0, tonumber(f[2]) or 0
local q = queue_for(f[3], KEYS[14], KEYS[15], KEYS[16])

local function die(msg)
  redis.call('HSET', key, 'err', msg)
  redis.call('ZADD', KEYS[11], now, id)
  finish(key, id, 'dead', KEYS[9], 'failed', retention, channel, now)
  return 'dead'
end

if f[5] == '1' or kind == 'canceled' then
  finish(key, id, 'canceled', KEYS[9], 'canceled', retention, channel, now)
  return 'canceled'
end
if kind == 'permanent' then
  return die(ARGV[4])
end
-- cool_down pauses leasing (of this ledger's deployment) for delay ms,
-- unless a longer pause is already set.
local function cool_down()
  if delay > 0 then
    local until_ms = now + delay
    local cur = tonumber(redis.call('GET', KEYS[13]) or '0') or 0
    if until_ms > cur then
      redis.call('SET', KEYS[13], until_ms, 'PX', delay + 1000)
    end
  end
end

if kind == 'failover' then
  cool_down()
  local fo = redis.call('HINCRBY', key, 'fo', 1)
  count_recent(KEYS[9], 'failover', now)
  if fo <= max_rl then
    redis.call('HSET', key, 'att', math.max(0, att - 1), 'status', 'queued', 'ut', now, 'err', ARGV[4])
    redis.call('HINCRBY', KEYS[9], (f[3] or 'low') .. '_failover', 1)
    redis.call('LPUSH', q, id)
    return 'queued'
  end
  -- Past the cap: a retry like any other, due when the cool-down ends.
end
if kind == 'ratelimit' then
  -- A 429 does not spend a retry; the cap stops an endless loop.
  cool_down()
  local rl = redis.call('HINCRBY', key, 'rl', 1)
  count_recent(KEYS[9], 'ratelimited', now)
  if rl > max_rl then
    return die('rate limited ' .. rl .. ' times: ' .. ARGV[4])
  end
  redis.call('HSET', key, 'att', math.max(0, att - 1), 'status', 'queued', 'ut', now, 'err', ARGV[4])
  redis.call('HINCRBY', KEYS[9], (f[3] or 'low') .. '_ratelimited', 1)
  redis.call('LPUSH', q, id)
  return 'queued'
end
if kind == 'suspend' then
  -- Asking a human is not a failed attempt: the attempt is given back, as
  -- for a 429, and the run after Resume counts its own when leased.
  redis.call('HSET', key, 'att', math.max(0, att - 1), 'status', 'suspended', 'ut', now, 'reason', ARGV[4],
    'state', ARGV[13])
  redis.call('HDEL', key, 'input')
  redis.call('ZADD', KEYS[12], now, id)
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
redis.call('HINCRBY', KEYS[9], (f[3] or 'low') .. '_retried', 1)
redis.call('ZADD', KEYS[10], now + delay, id)
return 'retrying'
