-- complete records a successful attempt, reconciles its reservation with
-- the real usage and ends the request. A stale lease is rejected.
--
-- KEYS[1] -> llmq:{ns}:req:<id>
-- KEYS[2] -> llmq:{ns}:active
-- KEYS[3] -> llmq:{ns}:budget:log
-- KEYS[4] -> llmq:{ns}:budget:sum
-- KEYS[5] -> llmq:{ns}:stats
-- ARGV[1] -> request id
-- ARGV[2] -> lease token
-- ARGV[3] -> result (JSON text)
-- ARGV[4] -> real tokens used (-1 keeps the estimate)
-- ARGV[5] -> input tokens
-- ARGV[6] -> output tokens
-- ARGV[7] -> budget window ms
-- ARGV[8] -> retention ms
-- ARGV[9] -> pub/sub channel ("" = none)
--
-- Returns 1, or the error "STALE" when the lease is not held.
if not owns(KEYS[1], ARGV[2]) then
  -- The same ack again (a client retry after a lost reply) is not stale.
  if redis.call('HGET', KEYS[1], 'lt') == ARGV[2] then return 1 end
  return redis.error_reply('STALE')
end
redis.call('HSET', KEYS[1], 'lt', ARGV[2])
local now = now_ms()
reconcile(KEYS[3], KEYS[4], KEYS[1], tonumber(ARGV[4]), now, tonumber(ARGV[7]))
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'res', ARGV[3], 'uin', ARGV[5], 'uout', ARGV[6])
redis.call('HDEL', KEYS[1], 'err')
finish(KEYS[1], ARGV[1], 'completed', KEYS[5], 'completed', tonumber(ARGV[8]), ARGV[9], now)
return 1
