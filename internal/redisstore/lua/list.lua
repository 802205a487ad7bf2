-- list reads a page of one of the namespace's id sets (dead or suspended),
-- oldest first. Ids that name no request any more are removed on the way
-- and the page keeps filling, so it is never empty while entries remain
-- past its offset: a dead request's hash expires with the retention, and
-- any hash can be deleted by hand or evicted.
--
-- KEYS[1] -> llmq:{ns}:dead or llmq:{ns}:suspended (score = time it got there)
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> offset: kept entries to skip
-- ARGV[3] -> limit: most ids to return, >= 1
-- ARGV[4] -> retention ms (0 = kept forever): entries older than this
--            name expired requests and are neither counted nor returned
--
-- Returns {more, id...}: more is 1 when the call stopped at its bound on
-- work before the page was full (call again for the rest), else 0.
local key, prefix = KEYS[1], ARGV[1]
local offset, limit, retention = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not offset or offset < 0 or offset ~= math.floor(offset) or not limit or limit < 1
    or limit ~= math.floor(limit) or not retention or retention < 0 then
  return redis.error_reply('BADARG list: offset, limit or retention')
end
-- MAX_WORK bounds the ids one call removes or checks, so a set with many
-- stale ids does not block Redis: the caller calls again.
local MAX_WORK = 1000
local now = now_ms()
local rank = offset
if retention > 0 then
  -- Expired ids sit at the front: remove a batch, step over the rest.
  local old = redis.call('ZCOUNT', key, '-inf', '(' .. int_str(now - retention))
  if old > 0 then
    local n = math.min(old, MAX_WORK)
    redis.call('ZREMRANGEBYRANK', key, 0, n - 1)
    rank = rank + old - n
  end
end
local out = {0}
local work = MAX_WORK
while #out - 1 < limit do
  local ids = redis.call('ZRANGE', key, rank, rank + limit - #out)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', prefix .. 'req:' .. id) == 1 then
      table.insert(out, id)
      rank = rank + 1
    else
      -- The next id moves into this rank.
      redis.call('ZREM', key, id)
    end
  end
  work = work - #ids
  if work <= 0 and #out - 1 < limit then
    out[1] = 1
    break
  end
end
return out
