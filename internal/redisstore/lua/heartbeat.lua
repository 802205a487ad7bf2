-- heartbeat extends the leases a worker still holds, registers the worker
-- as alive, and reports which of its requests were lost (lease recovered by
-- another worker) or asked to cancel.
--
-- KEYS[1] -> llmq:{ns}:active
-- KEYS[2] -> llmq:{ns}:workers       (score = heartbeat deadline ms)
-- KEYS[3] -> llmq:{ns}:workers:info  (field = worker id, value = JSON)
-- KEYS[4] -> llmq:{ns}:lastlease
-- KEYS[5] -> llmq:{ns}:workers:inst  (field = worker id, value = instance)
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> lease duration ms
-- ARGV[3] -> worker id
-- ARGV[4] -> worker ttl ms
-- ARGV[5] -> worker info JSON
-- ARGV[6] -> instance (random per process)
-- ARGV[7...] -> id, lease token pairs
--
-- Returns {lost ids, cancel ids, displaced}: displaced is 1 when another
-- live instance holds the worker id (this one is then not registered; its
-- leases are still extended, their tokens being its own).
local now = now_ms()
local lease_ms, ttl = tonumber(ARGV[2]), tonumber(ARGV[4])
if not lease_ms or lease_ms <= 0 or not ttl or ttl <= 0 or ARGV[6] == '' or (#ARGV - 6) % 2 ~= 0 then
  return redis.error_reply('BADARG heartbeat: lease, ttl, instance or pairs')
end
-- Workers whose heartbeat expired disappear from the registry.
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, w in ipairs(dead) do
  redis.call('HDEL', KEYS[3], w)
  redis.call('HDEL', KEYS[4], w)
  redis.call('HDEL', KEYS[5], w)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local displaced = 0
local holder = redis.call('HGET', KEYS[5], ARGV[3])
if holder and holder ~= ARGV[6] and redis.call('ZSCORE', KEYS[2], ARGV[3]) then
  displaced = 1
else
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
  redis.call('HSET', KEYS[5], ARGV[3], ARGV[6])
end
local lost, cancel = {}, {}
for i = 7, #ARGV, 2 do
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
return {lost, cancel, displaced}
