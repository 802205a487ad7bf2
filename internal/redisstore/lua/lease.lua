-- lease admits up to N requests that the budget can afford, following the
-- shared 3-2-1 cycle, reserves their estimates in the sliding-window ledger
-- and marks them active under a lease. On the way it moves due retries back
-- to their queues and recovers leases that expired (their worker died).
--
-- KEYS[1]  -> llmq:{ns}:q:low       (list of ids, head first)
-- KEYS[2]  -> llmq:{ns}:q:medium
-- KEYS[3]  -> llmq:{ns}:q:long
-- KEYS[4]  -> llmq:{ns}:active      (score = lease deadline ms)
-- KEYS[5]  -> llmq:{ns}:scheduled   (score = run-at ms)
-- KEYS[6]  -> llmq:{ns}:budget:log  (score = reservation ms, member = tokens:id:lease)
-- KEYS[7]  -> llmq:{ns}:budget:sum
-- KEYS[8]  -> llmq:{ns}:cycle
-- KEYS[9]  -> llmq:{ns}:cooldown    (value = ms until which nothing is leased)
-- KEYS[10] -> llmq:{ns}:stats
-- KEYS[11] -> llmq:{ns}:dead
-- KEYS[12] -> llmq:{ns}:leaseseq
-- KEYS[13] -> llmq:{ns}:lastlease   (field = worker id, value = its last call's leases)
-- ARGV[1]  -> key prefix "llmq:{ns}:"
-- ARGV[2]  -> max requests to lease
-- ARGV[3]  -> lease duration ms
-- ARGV[4]  -> budget window ms
-- ARGV[5]  -> usable tokens per window (0 = unlimited)
-- ARGV[6]  -> usable requests per window (0 = unlimited)
-- ARGV[7]  -> cycle: low,medium,long slot counts, e.g. "3,2,1"
-- ARGV[8]  -> worker id
-- ARGV[9]  -> retention ms for requests that die here
-- ARGV[10] -> pub/sub channel for terminal events ("" = none)
-- ARGV[11] -> call id, unique per worker ("" = not idempotent)
--
-- Returns {leased, wait_ms, reason, job...}: reason is "ok", "empty",
-- "tokens", "requests" or "cooldown"; wait_ms says how long until the head
-- request fits (or the next retry is due; -1 when nothing is scheduled).
-- Each job is the flat HGETALL of the request plus "id" and its value.
--
-- A call repeated with the same worker and call id (a client retrying after
-- its reply was lost) answers the leases the first call made, still held,
-- instead of leasing more and orphaning those until their lease expires.
local prefix = ARGV[1]
local want = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local tpm = tonumber(ARGV[5])
local rpm = tonumber(ARGV[6])
local worker = ARGV[8]
local retention = tonumber(ARGV[9])
local channel = ARGV[10]
local queues = {low = KEYS[1], medium = KEYS[2], long = KEYS[3]}
local call = ARGV[11]
local now = now_ms()

local function job_reply(key, id)
  local job = redis.call('HGETALL', key)
  table.insert(job, 'id')
  table.insert(job, id)
  return job
end

if call ~= '' then
  local prev = redis.call('HGET', KEYS[13], worker)
  if prev then
    local nl = string.find(prev, '\n', 1, true)
    if nl and string.sub(prev, 1, nl - 1) == call then
      local out = {0, 0, 'ok'}
      for token, id in string.gmatch(string.sub(prev, nl + 1), '([^\t\n]+)\t([^\n]+)') do
        local key = prefix .. 'req:' .. id
        if owns(key, token) then
          table.insert(out, job_reply(key, id))
          out[1] = out[1] + 1
        end
      end
      return out
    end
  end
end

local function kill(id, key, msg)
  redis.call('HSET', key, 'err', msg)
  redis.call('ZADD', KEYS[11], now, id)
  finish(key, id, 'dead', KEYS[10], 'failed', retention, channel, now)
end

-- Due retries go back to the tail of their queue.
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 200)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[5], id)
  local key = prefix .. 'req:' .. id
  local f = redis.call('HMGET', key, 'prio', 'status')
  if f[1] and f[2] == 'retrying' then
    redis.call('HSET', key, 'status', 'queued', 'ut', now)
    redis.call('RPUSH', queues[f[1]] or KEYS[1], id)
  end
end

-- Expired leases: the worker died. The attempt was counted when leased.
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 200)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[4], id)
  local key = prefix .. 'req:' .. id
  local f = redis.call('HMGET', key, 'status', 'att', 'maxr', 'prio', 'cxl')
  if f[1] == 'active' then
    redis.call('HDEL', key, 'lease')
    if f[5] == '1' then
      finish(key, id, 'canceled', KEYS[10], 'canceled', retention, channel, now)
    elseif (tonumber(f[2]) or 0) > (tonumber(f[3]) or 0) then
      kill(id, key, 'lease expired; retries spent')
    else
      redis.call('HSET', key, 'status', 'queued', 'ut', now, 'err', 'lease expired')
      redis.call('HINCRBY', KEYS[10], (f[4] or 'low') .. '_recovered', 1)
      redis.call('LPUSH', queues[f[4]] or KEYS[1], id)
    end
  end
end

local cd = tonumber(redis.call('GET', KEYS[9]) or '')
if cd and cd > now then
  return {0, cd - now, 'cooldown'}
end

local sum = trim(KEYS[6], KEYS[7], now, window)
local count = redis.call('ZCARD', KEYS[6])

-- The cycle: a sequence of classes, one per slot.
local seq = {}
local names = {'low', 'medium', 'long'}
local ci = 1
for c in string.gmatch(ARGV[7], '%d+') do
  for _ = 1, tonumber(c) do table.insert(seq, names[ci]) end
  ci = ci + 1
end
local slots = #seq
local pos = (tonumber(redis.call('GET', KEYS[8]) or '0') or 0) % slots

-- wait_for returns ms until `need` more tokens (or one more request) fit,
-- walking the ledger from its oldest entry.
local function wait_for(need_tokens, need_requests)
  local entries = redis.call('ZRANGE', KEYS[6], 0, -1, 'WITHSCORES')
  local freed_t, freed_r = 0, 0
  for i = 1, #entries, 2 do
    freed_t = freed_t + entry_tokens(entries[i])
    freed_r = freed_r + 1
    if freed_t >= need_tokens and freed_r >= need_requests then
      return math.max(1, tonumber(entries[i + 1]) + window - now + 1)
    end
  end
  return window
end

local out = {0, 0, 'ok'}
local record = {}
local leased = 0
local empty = {}
local guard = want + 200
while leased < want and guard > 0 do
  guard = guard - 1
  -- An empty class gives its slot to the next class in the cycle.
  local found = nil
  for step = 0, slots - 1 do
    local p = (pos + step) % slots
    local cls = seq[p + 1]
    if not empty[cls] then
      if redis.call('LLEN', queues[cls]) > 0 then
        found = p
        break
      end
      empty[cls] = true
    end
  end
  if not found then
    out[3] = 'empty'
    break
  end
  pos = found
  local q = queues[seq[pos + 1]]
  local id = redis.call('LINDEX', q, 0)
  materialize(prefix, id)
  local key = prefix .. 'req:' .. id
  local f = redis.call('HMGET', key, 'status', 'tokens', 'prio')
  local tokens = tonumber(f[2])
  if not f[1] or f[1] ~= 'queued' then
    -- Expired, deleted or no longer queued: nothing to run.
    redis.call('LPOP', q)
  elseif not tokens or tokens < 0 or not queues[f[3] or ''] then
    redis.call('LPOP', q)
    kill(id, key, 'corrupt request: bad tokens or priority')
  elseif tpm > 0 and tokens > tpm then
    redis.call('LPOP', q)
    kill(id, key, 'estimate exceeds the usable token limit')
  elseif tpm > 0 and sum + tokens > tpm then
    out[2] = wait_for(sum + tokens - tpm, 0)
    out[3] = 'tokens'
    break
  elseif rpm > 0 and count + 1 > rpm then
    out[2] = wait_for(0, count + 1 - rpm)
    out[3] = 'requests'
    break
  else
    local token = tostring(redis.call('INCR', KEYS[12]))
    local member = tokens .. ':' .. id .. ':' .. token
    redis.call('LPOP', q)
    redis.call('ZADD', KEYS[6], now, member)
    redis.call('INCRBY', KEYS[7], tokens)
    sum = sum + tokens
    count = count + 1
    local att = redis.call('HINCRBY', key, 'att', 1)
    redis.call('HSET', key, 'status', 'active', 'lease', token, 'bm', member,
      'st', now, 'ut', now, 'wid', worker)
    redis.call('ZADD', KEYS[4], now + lease_ms, id)
    table.insert(out, job_reply(key, id))
    table.insert(record, token .. '\t' .. id)
    leased = leased + 1
    pos = (pos + 1) % slots
  end
end
redis.call('SET', KEYS[8], pos)
out[1] = leased
if call ~= '' then
  if leased > 0 then
    redis.call('HSET', KEYS[13], worker, call .. '\n' .. table.concat(record, '\n'))
  else
    redis.call('HDEL', KEYS[13], worker)
  end
end
if leased == 0 and out[3] == 'empty' then
  local nxt = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if #nxt > 0 then
    out[2] = math.max(1, tonumber(nxt[2]) - now)
  else
    out[2] = -1
  end
end
return out
