-- clear takes up to ARGV[2] requests off the head of one class's queue and
-- ends each still queued as canceled, with ARGV[5] as its error, so a
-- caller waiting on it wakes and Status says what happened. Requests that
-- are active, retrying or suspended are never in a queue list: a purge
-- cannot touch them. Ids left in the list by a request that is no longer
-- queued (canceled, expired) are dropped, as a lease would drop them.
--
-- KEYS[1] -> llmq:{ns}:q:<class>   (list of ids, head first)
-- KEYS[2] -> llmq:{ns}:stats
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> most ids to take off in this call (1-1000)
-- ARGV[3] -> retention ms (0 = kept forever)
-- ARGV[4] -> pub/sub channel for terminal events ("" = none)
-- ARGV[5] -> the error the canceled requests carry
--
-- Returns {canceled, dropped, left}: left is the queue's length after.
local prefix = ARGV[1]
local max = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
if not max or max < 1 or max > 1000 or max ~= math.floor(max) then
  return redis.error_reply('BADARG clear: count')
end
if not retention or retention < 0 then return redis.error_reply('BADARG clear: retention') end
local now = now_ms()
local canceled, dropped = 0, 0
for _ = 1, max do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  materialize(prefix, id)
  local key = prefix .. 'req:' .. id
  if redis.call('HGET', key, 'status') == 'queued' then
    redis.call('HSET', key, 'err', ARGV[5])
    finish(key, id, 'canceled', KEYS[2], 'canceled', retention, ARGV[4], now)
    canceled = canceled + 1
  else
    dropped = dropped + 1
  end
end
return {canceled, dropped, redis.call('LLEN', KEYS[1])}
