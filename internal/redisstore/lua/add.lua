-- add stores one or more requests and queues them, all or nothing. A new
-- request is one compact string (see materialize in lib.lua) and one list
-- entry: the queues are lists, FIFO, with interrupted work pushed back at
-- the head.
--
-- KEYS[1] -> llmq:{ns}:q:low
-- KEYS[2] -> llmq:{ns}:q:medium
-- KEYS[3] -> llmq:{ns}:q:long
-- KEYS[4] -> llmq:{ns}:stats
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> number of requests
-- ARGV[3] -> pub/sub channel that wakes idle workers ("" = none)
-- ARGV[4...] -> per request: id, priority, header ("tokens\tpriority\t
--               max_retries\ttimeout_ms\tinput tokens\toutput tokens
--               [\tmeta key\tmeta JSON]..."), payload
--
-- Returns {1} when all were added, or {0, id} naming a duplicate ID (then
-- nothing was added).
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
for r = 0, n - 1 do
  local id = ARGV[4 + r * 4]
  if redis.call('EXISTS', prefix .. 'qr:' .. id, prefix .. 'req:' .. id) > 0 then
    return {0, id}
  end
end
local now = tostring(now_ms())
local added = {low = 0, medium = 0, long = 0}
for r = 0, n - 1 do
  local i = 4 + r * 4
  local id, prio = ARGV[i], ARGV[i + 1]
  redis.call('SET', prefix .. 'qr:' .. id, 'Q2\t' .. now .. '\t' .. ARGV[i + 2] .. '\n' .. ARGV[i + 3])
  redis.call('RPUSH', queue_for(prio, KEYS[1], KEYS[2], KEYS[3]), id)
  added[prio] = (added[prio] or 0) + 1
end
for prio, c in pairs(added) do
  if c > 0 then redis.call('HINCRBY', KEYS[4], prio .. '_added', c) end
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], n) end
return {1}
