-- complete records successful attempts, in a batch: for each, it checks the
-- lease, settles the reservation the way the provider's meter does, books
-- what the provider's rate-limit headers say it has counted beyond the
-- ledger, and ends the request. Settle and feedback happen in this one
-- script, so no lease ever sees a half-updated ledger. Acks of many
-- workers' requests share one call, which is what makes a busy namespace
-- fast.
--
-- KEYS[1]  -> llmq:{ns}:active
-- KEYS[2]  -> llmq:{ns}:budget:log     (the ledger: see ledger in lib.lua)
-- KEYS[3]  -> llmq:{ns}:budget:sum
-- KEYS[4]  -> llmq:{ns}:budget:isum
-- KEYS[5]  -> llmq:{ns}:budget:osum
-- KEYS[6]  -> llmq:{ns}:budget:daylog
-- KEYS[7]  -> llmq:{ns}:budget:daysum
-- KEYS[8]  -> llmq:{ns}:stats
-- KEYS[9]  -> llmq:{ns}:leaseseq      (numbers the provider's bookings)
-- ARGV[1]  -> key prefix "llmq:{ns}:"
-- ARGV[2]  -> budget window ms
-- ARGV[3]  -> retention ms
-- ARGV[4]  -> pub/sub channel ("" = none)
-- ARGV[5...] -> per request, 18 values: id, lease token, result (JSON
--               text), settled tokens, input tokens, output tokens (-1 keeps
--               the reservation), usage in, out, cache read, cache write,
--               then the provider's feedback: the usable limit and the
--               provider's remaining count of tokens, requests, input
--               tokens, output tokens (limit <= 0 or remaining < 0: skip),
--               then the call's cost in nano-USD (0: not priced), the
--               deployment and the model it is booked under ("": none);
--               the stats hash counts cost_nusd, cost_nusd:dep:<name> and
--               cost_nusd:model:<model>
--
-- Every number is checked before the first write; a bad one fails the
-- whole call with "BADARG", changing nothing.
--
-- Returns one entry per request: 1 when completed (or this very ack was
-- already recorded: a client retry), 0 when the lease is not held (stale).
local PER = 21
local prefix = ARGV[1]
local window, retention, channel = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if not window or not retention or (#ARGV - 4) % PER ~= 0 then
  return redis.error_reply('BADARG complete: window, retention or argument count')
end
for i = 5, #ARGV, PER do
  local t = tonumber(ARGV[i + 3])
  if t ~= -1 and not valid_count(t) then return redis.error_reply('BADARG complete: settled tokens') end
  for k = 4, 9 do
    if not valid_count(tonumber(ARGV[i + k])) then return redis.error_reply('BADARG complete: counts') end
  end
  if not read_feedback(i + 10) then return redis.error_reply('BADARG complete: feedback') end
  if not valid_count(tonumber(ARGV[i + 18])) or #ARGV[i + 19] > 64 or #ARGV[i + 20] > 200 then
    return redis.error_reply('BADARG complete: cost, deployment or model')
  end
end

local L = ledger(2)
local now = now_ms()
trim(L, now, window, false)
local out, completed = {}, 0
for i = 5, #ARGV, PER do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = prefix .. 'req:' .. id
  local held, ec, sk = owns(key, token, 'ec', 'sk')
  if held then
    redis.call('HSET', key, 'lt', token, 'res', ARGV[i + 2], 'uin', ARGV[i + 6], 'uout', ARGV[i + 7],
      'ucr', ARGV[i + 8], 'ucw', ARGV[i + 9])
    settle(L, key, tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), now, window)
    feedback(L, KEYS[9], now, read_feedback(i + 10))
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', key, 'err')
    local cost, dep, model = tonumber(ARGV[i + 18]), ARGV[i + 19], ARGV[i + 20]
    true_up_spend(key, cost, ec, sk)
    if dep ~= '' then redis.call('HSET', key, 'dep', dep) end
    if cost > 0 then
      redis.call('HSET', key, 'cost', cost)
      redis.call('HINCRBY', KEYS[8], 'cost_nusd', cost)
      if dep ~= '' then redis.call('HINCRBY', KEYS[8], 'cost_nusd:dep:' .. dep, cost) end
      if model ~= '' then redis.call('HINCRBY', KEYS[8], 'cost_nusd:model:' .. model, cost) end
    end
    finish(key, id, 'completed', KEYS[8], 'completed', retention, channel, now, true)
    completed = completed + 1
    table.insert(out, 1)
  elseif redis.call('HGET', key, 'lt') == token then
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
end
if completed > 0 then
  -- One write to the recent bucket for the whole call (see count_recent).
  local k = KEYS[8] .. ':recent:' .. int_str(math.floor(now / RECENT_BUCKET_MS))
  redis.call('HINCRBY', k, 'completed', completed)
  redis.call('PEXPIRE', k, RECENT_KEEP_MS)
end
return out
