-- adjust takes the provider's word about the budget: when the provider
-- says fewer tokens or requests remain than the ledger thinks, it books
-- the difference now, so it counts for the rest of the window; when it says
-- requests are exhausted until a reset, it sets the shared cool-down.
--
-- KEYS[1] -> llmq:{ns}:budget:log
-- KEYS[2] -> llmq:{ns}:budget:sum
-- KEYS[3] -> llmq:{ns}:cooldown
-- KEYS[4] -> llmq:{ns}:leaseseq
-- ARGV[1] -> budget window ms
-- ARGV[2] -> usable tokens per window (0 = unlimited)
-- ARGV[3] -> provider's remaining tokens (-1 = unknown)
-- ARGV[4] -> usable requests per window (0 = unlimited)
-- ARGV[5] -> provider's remaining requests (-1 = unknown)
-- ARGV[6] -> cool-down ms (0 = none)
--
-- Returns the tokens booked.
local now = now_ms()
local window = tonumber(ARGV[1])
local tpm, rem_t = tonumber(ARGV[2]), tonumber(ARGV[3])
local rpm, rem_r = tonumber(ARGV[4]), tonumber(ARGV[5])
local sum = trim(KEYS[1], KEYS[2], now, window)
local booked = 0
if tpm > 0 and rem_t >= 0 then
  local gap = (tpm - sum) - rem_t
  if gap > 0 then
    local seq = redis.call('INCR', KEYS[4])
    redis.call('ZADD', KEYS[1], now, gap .. ':provider:' .. seq)
    redis.call('INCRBY', KEYS[2], gap)
    booked = gap
  end
end
if rpm > 0 and rem_r >= 0 then
  local count = redis.call('ZCARD', KEYS[1])
  local gap = (rpm - count) - rem_r
  for _ = 1, math.min(gap, 1000) do
    local seq = redis.call('INCR', KEYS[4])
    redis.call('ZADD', KEYS[1], now, '0:provider:' .. seq)
  end
end
local cd = tonumber(ARGV[6]) or 0
if cd > 0 then
  local until_ms = now + cd
  local cur = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
  if until_ms > cur then
    redis.call('SET', KEYS[3], until_ms, 'PX', cd + 1000)
  end
end
return booked
