-- register claims a worker id for one process instance. Two live
-- processes must never share an id: lease calls are made idempotent per
-- worker id, and the registry would show one worker where two run.
--
-- KEYS[1] -> llmq:{ns}:workers       (score = heartbeat deadline ms)
-- KEYS[2] -> llmq:{ns}:workers:info  (field = worker id, value = JSON)
-- KEYS[3] -> llmq:{ns}:workers:inst  (field = worker id, value = instance)
-- ARGV[1] -> worker id
-- ARGV[2] -> instance (random per process)
-- ARGV[3] -> worker ttl ms
-- ARGV[4] -> worker info JSON
--
-- Returns {1} when claimed, or {0, ms until the holder's registration
-- expires, the holder's info JSON} when another live instance holds it.
local ttl = tonumber(ARGV[3])
if not ttl or ttl <= 0 or ARGV[1] == '' or ARGV[2] == '' then
  return redis.error_reply('BADARG register: worker id, instance or ttl')
end
local now = now_ms()
local holder = redis.call('HGET', KEYS[3], ARGV[1])
local deadline = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')
if holder and holder ~= ARGV[2] and deadline and deadline > now then
  return {0, deadline - now, redis.call('HGET', KEYS[2], ARGV[1]) or ''}
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return {1}
