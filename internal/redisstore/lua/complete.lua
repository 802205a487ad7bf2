-- complete records successful attempts, in a batch: for each, it checks the
-- lease, reconciles the reservation with the real usage and ends the
-- request. Acks of many workers' requests share one call, which is what
-- makes a busy namespace fast.
--
-- KEYS[1] -> llmq:{ns}:active
-- KEYS[2] -> llmq:{ns}:budget:log
-- KEYS[3] -> llmq:{ns}:budget:sum
-- KEYS[4] -> llmq:{ns}:stats
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> budget window ms
-- ARGV[3] -> retention ms
-- ARGV[4] -> pub/sub channel ("" = none)
-- ARGV[5...] -> per request: id, lease token, result (JSON text), real
--               tokens used (-1 keeps the estimate), input tokens, output
--               tokens
--
-- Returns one entry per request: 1 when completed (or this very ack was
-- already recorded: a client retry), 0 when the lease is not held (stale).
local prefix = ARGV[1]
local window, retention, channel = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local now = now_ms()
local out = {}
for i = 5, #ARGV, 6 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = prefix .. 'req:' .. id
  if owns(key, token) then
    redis.call('HSET', key, 'lt', token, 'res', ARGV[i + 2], 'uin', ARGV[i + 4], 'uout', ARGV[i + 5])
    reconcile(KEYS[2], KEYS[3], key, tonumber(ARGV[i + 3]), now, window)
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', key, 'err')
    finish(key, id, 'completed', KEYS[4], 'completed', retention, channel, now)
    table.insert(out, 1)
  elseif redis.call('HGET', key, 'lt') == token then
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
end
return out
