-- cancel ends a queued, retrying or suspended request at once; for an
-- active one it raises the cancel flag that the owning worker sees on its
-- next heartbeat (it then cancels the processor's context).
--
-- KEYS[1] -> llmq:{ns}:req:<id>
-- KEYS[2] -> llmq:{ns}:q:low
-- KEYS[3] -> llmq:{ns}:q:medium
-- KEYS[4] -> llmq:{ns}:q:long
-- KEYS[5] -> llmq:{ns}:scheduled
-- KEYS[6] -> llmq:{ns}:suspended
-- KEYS[7] -> llmq:{ns}:stats
-- ARGV[1] -> request id
-- ARGV[2] -> retention ms (0 = kept forever)
-- ARGV[3] -> pub/sub channel for terminal events ("" = none)
-- ARGV[4] -> pub/sub channel for cancels of active requests
-- ARGV[5] -> key prefix "llmq:{ns}:"
--
-- Returns "canceled" (also for a request already canceled: a repeated
-- cancel succeeds), "canceling" (active), or an error "NOTFOUND" /
-- "STATE <status>" (completed or dead) / "BADARG".
local key, id = KEYS[1], ARGV[1]
local retention = tonumber(ARGV[2])
if not retention or retention < 0 then return redis.error_reply('BADARG cancel: retention') end
materialize(ARGV[5], id)
local st = redis.call('HGET', key, 'status')
if not st then return redis.error_reply('NOTFOUND') end
-- A client retrying after a lost reply, or a second operator, gets the
-- same answer; nothing is counted twice.
if st == 'canceled' then return 'canceled' end
local now = now_ms()
if st == 'active' then
  redis.call('HSET', key, 'cxl', 1, 'ut', now)
  redis.call('PUBLISH', ARGV[4], id .. ' canceling')
  return 'canceling'
end
if st == 'queued' or st == 'retrying' or st == 'suspended' then
  -- LREM walks the list; a cancel is rare next to a lease, which stays O(1).
  if st == 'queued' then
    redis.call('LREM', queue_for(redis.call('HGET', key, 'prio'), KEYS[2], KEYS[3], KEYS[4]), 1, id)
  end
  redis.call('ZREM', KEYS[5], id)
  redis.call('ZREM', KEYS[6], id)
  redis.call('HDEL', key, 'reason')
  finish(key, id, 'canceled', KEYS[7], 'canceled', retention, ARGV[3], now)
  return 'canceled'
end
return redis.error_reply('STATE ' .. st)
