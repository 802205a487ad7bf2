-- heartbeat extends the leases a worker still holds, registers the worker
-- as alive, and reports which of its requests were lost (lease recovered by
-- another worker) or asked to cancel.
--
-- KEYS[1] -> llmq:{ns}:active
-- KEYS[2] -> llmq:{ns}:workers       (score = heartbeat deadline ms)
-- KEYS[3] -> llmq:{ns}:workers:info  (field = worker id, value = JSON)
-- KEYS[4] -> llmq:{ns}:lastlease
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> lease duration ms
-- ARGV[3] -> worker id
-- ARGV[4] -> worker ttl ms
-- ARGV[5] -> worker info JSON
-- ARGV[6...] -> id, lease token pairs
--
-- Returns {lost ids, cancel ids}.
local now = now_ms()
local lease_ms = tonumber(ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
-- Workers whose heartbeat expired disappear from the registry.
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, w in ipairs(dead) do
  redis.call('HDEL', KEYS[3], w)
  redis.call('HDEL', KEYS[4], w)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local lost, cancel = {}, {}
for i = 6, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = ARGV[1] .. 'req:' .. id
  if owns(key, token) then
    redis.call('ZADD', KEYS[1], 'XX', now + lease_ms, id)
    if redis.call('HGET', key, 'cxl') == '1' then
      table.insert(cancel, id)
    end
  else
    table.insert(lost, id)
  end
end
return {lost, cancel}
