-- add stores one or more requests and queues them, all or nothing.
--
-- KEYS[1] -> llmq:{ns}:q:low
-- KEYS[2] -> llmq:{ns}:q:medium
-- KEYS[3] -> llmq:{ns}:q:long
-- KEYS[4] -> llmq:{ns}:stats
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> number of requests
-- ARGV[3...] -> per request: id, priority, tokens, max_retries, timeout_ms,
--               payload, meta_count, then meta_count key/value pairs
--
-- Returns {1} when all were added, or {0, id} naming a duplicate ID (then
-- nothing was added).
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
local reqs = {}
local i = 3
for r = 1, n do
  local q = {id = ARGV[i], prio = ARGV[i + 1], tokens = ARGV[i + 2], maxr = ARGV[i + 3],
             tmo = ARGV[i + 4], payload = ARGV[i + 5], meta = {}}
  local mc = tonumber(ARGV[i + 6])
  i = i + 7
  for m = 1, mc do
    table.insert(q.meta, 'm:' .. ARGV[i])
    table.insert(q.meta, ARGV[i + 1])
    i = i + 2
  end
  if redis.call('EXISTS', prefix .. 'req:' .. q.id) == 1 then
    return {0, q.id}
  end
  reqs[r] = q
end

local now = now_ms()
local base = now_us()
for r = 1, n do
  local q = reqs[r]
  local key = prefix .. 'req:' .. q.id
  redis.call('HSET', key, 'payload', q.payload, 'tokens', q.tokens, 'prio', q.prio,
    'status', 'queued', 'att', 0, 'maxr', q.maxr, 'tmo', q.tmo, 'ct', now, 'ut', now)
  if #q.meta > 0 then
    redis.call('HSET', key, unpack(q.meta))
  end
  redis.call('ZADD', queue_for(q.prio, KEYS[1], KEYS[2], KEYS[3]), base + r, q.id)
  redis.call('HINCRBY', KEYS[4], q.prio .. '_added', 1)
end
return {1}
