-- restamp moves a reservation to now, for a call that starts late after
-- its lease (a slow reply, a busy machine): the ledger must count tokens
-- when the call reaches the provider, and a later reservation only ever
-- holds budget longer.
--
-- KEYS[1] -> llmq:{ns}:req:<id>
-- KEYS[2] -> llmq:{ns}:budget:log
-- KEYS[3] -> llmq:{ns}:budget:daylog
-- ARGV[1] -> lease token
--
-- Returns 1 when moved, 0 when the lease or the reservation is gone.
if not owns(KEYS[1], ARGV[1]) then return 0 end
local member = redis.call('HGET', KEYS[1], 'bm')
if not member or not redis.call('ZSCORE', KEYS[2], member) then return 0 end
local now = now_ms()
redis.call('ZADD', KEYS[2], 'XX', now, member)
local dm = redis.call('HGET', KEYS[1], 'dm')
if dm then redis.call('ZADD', KEYS[3], 'XX', now, dm) end
return 1
