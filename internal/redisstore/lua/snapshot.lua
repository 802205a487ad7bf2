-- snapshot reads everything Metrics reports in one consistent view.
--
-- KEYS[1] -> llmq:{ns}:q:low
-- KEYS[2] -> llmq:{ns}:q:medium
-- KEYS[3] -> llmq:{ns}:q:long
-- KEYS[4] -> llmq:{ns}:active
-- KEYS[5] -> llmq:{ns}:scheduled
-- KEYS[6] -> llmq:{ns}:dead
-- KEYS[7] -> llmq:{ns}:suspended
-- KEYS[8] -> llmq:{ns}:budget:log
-- KEYS[9] -> llmq:{ns}:budget:sum
-- KEYS[10] -> llmq:{ns}:stats
-- KEYS[11] -> llmq:{ns}:cooldown
-- KEYS[12] -> llmq:{ns}:workers
-- KEYS[13] -> llmq:{ns}:workers:info
-- ARGV[1] -> budget window ms
--
-- Returns {low, medium, long, active, scheduled, dead, suspended,
-- tokens in window, requests in window, cooldown ms left, stats (flat),
-- workers (flat id/info of live workers)}.
local now = now_ms()
local sum = trim(KEYS[8], KEYS[9], now, tonumber(ARGV[1]))
local cd = (tonumber(redis.call('GET', KEYS[11]) or '0') or 0) - now
local live = redis.call('ZRANGEBYSCORE', KEYS[12], now, '+inf')
local workers = {}
for _, w in ipairs(live) do
  table.insert(workers, w)
  table.insert(workers, redis.call('HGET', KEYS[13], w) or '{}')
end
return {
  redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[6]),
  redis.call('ZCARD', KEYS[7]), sum, redis.call('ZCARD', KEYS[8]), math.max(0, cd),
  redis.call('HGETALL', KEYS[10]), workers,
}
