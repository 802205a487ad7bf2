-- deregister removes a worker from the registry when it stops, unless
-- another instance has taken its id since.
--
-- KEYS[1] -> llmq:{ns}:workers
-- KEYS[2] -> llmq:{ns}:workers:info
-- KEYS[3] -> llmq:{ns}:workers:inst
-- KEYS[4] -> llmq:{ns}:lastlease
-- ARGV[1] -> worker id
-- ARGV[2] -> instance
--
-- Returns 1 when removed, 0 when the id is held by another instance.
local holder = redis.call('HGET', KEYS[3], ARGV[1])
if holder and holder ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
