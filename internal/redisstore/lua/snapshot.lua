-- snapshot reads everything Metrics reports in one consistent view.
--
-- KEYS[1]  -> llmq:{ns}:q:low
-- KEYS[2]  -> llmq:{ns}:q:medium
-- KEYS[3]  -> llmq:{ns}:q:long
-- KEYS[4]  -> llmq:{ns}:active
-- KEYS[5]  -> llmq:{ns}:scheduled
-- KEYS[6]  -> llmq:{ns}:dead
-- KEYS[7]  -> llmq:{ns}:suspended
-- KEYS[8]  -> llmq:{ns}:budget:log     (the ledger: see ledger in lib.lua)
-- KEYS[9]  -> llmq:{ns}:budget:sum
-- KEYS[10] -> llmq:{ns}:budget:isum
-- KEYS[11] -> llmq:{ns}:budget:osum
-- KEYS[12] -> llmq:{ns}:budget:daylog
-- KEYS[13] -> llmq:{ns}:budget:daysum
-- KEYS[14] -> llmq:{ns}:stats
-- KEYS[15] -> llmq:{ns}:cooldown
-- KEYS[16] -> llmq:{ns}:workers
-- KEYS[17] -> llmq:{ns}:workers:info
-- ARGV[1]  -> budget window ms
-- ARGV[2]  -> retention ms (0 = kept forever): dead ids older than this
--             name expired requests and are not counted
--
-- Returns {low, medium, long, active, scheduled, dead, suspended,
-- tokens in window, requests in window, cooldown ms left, input tokens in
-- window, output tokens in window, tokens in the day, requests in the day,
-- stats (flat), workers (flat id/info of live workers), then the last
-- minute's completed, failed (dead), canceled and rate-limited counts}.
local window, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
if not window or not retention then return redis.error_reply('BADARG snapshot: window or retention') end
local now = now_ms()
-- The lease script prunes expired dead ids in batches; counting only those
-- within the retention keeps Metrics right between batches and while no
-- worker runs.
local dead = redis.call('ZCARD', KEYS[6])
if retention > 0 then dead = redis.call('ZCOUNT', KEYS[6], int_str(now - retention), '+inf') end
local used = trim(ledger(8), now, window, true)
local cd = (tonumber(redis.call('GET', KEYS[15]) or '0') or 0) - now
local live = redis.call('ZRANGEBYSCORE', KEYS[16], now, '+inf')
local workers = {}
for _, w in ipairs(live) do
  table.insert(workers, w)
  table.insert(workers, redis.call('HGET', KEYS[17], w) or '{}')
end
-- The last minute from the recent buckets (count_recent in lib.lua): the
-- current one, five whole ones before it, and the part of the sixth that
-- still lies within 60 s. Rounded, so a figure is an estimate within one
-- event of the truth when events are spread evenly through a bucket.
local bucket = math.floor(now / RECENT_BUCKET_MS)
local share = 1 - (now % RECENT_BUCKET_MS) / RECENT_BUCKET_MS
local recent = {completed = 0, failed = 0, canceled = 0, ratelimited = 0}
for back = 0, 6 do
  local f = redis.call('HGETALL', KEYS[14] .. ':recent:' .. int_str(bucket - back))
  local w = 1
  if back == 6 then w = share end
  for i = 1, #f, 2 do
    if recent[f[i]] then recent[f[i]] = recent[f[i]] + w * (tonumber(f[i + 1]) or 0) end
  end
end
local function round(x) return math.floor(x + 0.5) end
return {
  redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('LLEN', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), dead,
  redis.call('ZCARD', KEYS[7]), used.t, used.r, math.max(0, cd), used.i, used.o, used.dt, used.dr,
  redis.call('HGETALL', KEYS[14]), workers,
  round(recent.completed), round(recent.failed), round(recent.canceled), round(recent.ratelimited),
}
