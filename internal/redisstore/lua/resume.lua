-- resume queues a suspended request again with the human's input, or a
-- dead one (requeue) with its attempts reset.
--
-- KEYS[1] -> llmq:{ns}:req:<id>
-- KEYS[2] -> llmq:{ns}:q:low
-- KEYS[3] -> llmq:{ns}:q:medium
-- KEYS[4] -> llmq:{ns}:q:long
-- KEYS[5] -> llmq:{ns}:suspended
-- KEYS[6] -> llmq:{ns}:dead
-- ARGV[1] -> request id
-- ARGV[2] -> from: "suspended" (resume) or "dead" (requeue)
-- ARGV[3] -> input (JSON text, required to resume: "null" is an answer, ""
--            is none; ignored by requeue)
-- ARGV[4] -> key prefix "llmq:{ns}:"
--
-- Returns "queued", or an error "NOTFOUND" / "STATE <status>" / "BADARG".
local key, id, from = KEYS[1], ARGV[1], ARGV[2]
if from ~= 'suspended' and from ~= 'dead' then return redis.error_reply('BADARG resume: from') end
if from == 'suspended' and (ARGV[3] or '') == '' then
  -- An empty resume must not approve what a human was asked.
  return redis.error_reply('BADARG resume: input required')
end
local f = redis.call('HMGET', key, 'status', 'prio')
if not f[1] then
  -- Still in its compact queued form (see materialize in lib.lua)?
  local prefix = ARGV[4]
  if redis.call('EXISTS', prefix .. 'qr:' .. id) == 1 then return redis.error_reply('STATE queued') end
  return redis.error_reply('NOTFOUND')
end
if f[1] ~= from then return redis.error_reply('STATE ' .. f[1]) end
local now = now_ms()
redis.call('PERSIST', key)
if from == 'suspended' then
  redis.call('ZREM', KEYS[5], id)
  redis.call('HSET', key, 'input', ARGV[3])
else
  redis.call('ZREM', KEYS[6], id)
  redis.call('HSET', key, 'att', 0, 'rl', 0)
  redis.call('HDEL', key, 'ft')
end
-- The request is no longer suspended: a reason would describe the past.
redis.call('HDEL', key, 'reason')
redis.call('HSET', key, 'status', 'queued', 'ut', now)
redis.call('RPUSH', queue_for(f[2], KEYS[2], KEYS[3], KEYS[4]), id)
return 'queued'
