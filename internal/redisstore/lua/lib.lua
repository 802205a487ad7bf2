-- lib.lua is prepended to every script (see scripts.go), so these helpers
-- exist once in source and in every script's body. Keys are built from the
-- namespace prefix only for request hashes, which share the prefix's hash
-- tag and so the slot of every declared key.

-- now_ms returns the server's clock, so every process shares one clock.
local function now_parts()
  local t = redis.call('TIME')
  return tonumber(t[1]), tonumber(t[2])
end

local function now_ms()
  local s, us = now_parts()
  return s * 1000 + math.floor(us / 1000)
end

-- now_us orders queue entries; a double holds microseconds exactly.
local function now_us()
  local s, us = now_parts()
  return s * 1000000 + us
end

-- A ledger entry is "<tokens>:<id>:<lease>"; its score is the reservation
-- time in ms. The running sum lives beside it so admission is O(1).
local function entry_tokens(member)
  local t = string.match(member, '^(%-?%d+):')
  return tonumber(t) or 0
end

-- trim drops entries older than the window from the log and the sum.
local function trim(log_key, sum_key, now, window)
  local cutoff = now - window
  local old = redis.call('ZRANGEBYSCORE', log_key, '-inf', cutoff)
  if #old == 0 then
    return tonumber(redis.call('GET', sum_key) or '0') or 0
  end
  local freed = 0
  for i = 1, #old do
    freed = freed + entry_tokens(old[i])
  end
  redis.call('ZREMRANGEBYSCORE', log_key, '-inf', cutoff)
  local sum = redis.call('DECRBY', sum_key, freed)
  if sum < 0 or redis.call('ZCARD', log_key) == 0 then
    redis.call('SET', sum_key, 0)
    sum = 0
  end
  return sum
end

-- reconcile replaces a reservation's estimate with the real usage, keeping
-- its time. An entry already out of the window is left alone: it no longer
-- counts, and charging it now would move usage into the wrong minute.
local function reconcile(log_key, sum_key, req_key, actual, now, window)
  if actual < 0 then return end
  local member = redis.call('HGET', req_key, 'bm')
  if not member then return end
  local score = redis.call('ZSCORE', log_key, member)
  if not score or tonumber(score) <= now - window then return end
  local old = entry_tokens(member)
  local rest = string.match(member, '^%-?%d+:(.*)$') or member
  local fresh = tostring(actual) .. ':' .. rest
  redis.call('ZREM', log_key, member)
  redis.call('ZADD', log_key, score, fresh)
  redis.call('INCRBY', sum_key, actual - old)
  redis.call('HSET', req_key, 'bm', fresh)
end

-- owns reports whether token still holds the request's lease.
local function owns(req_key, token)
  local f = redis.call('HMGET', req_key, 'status', 'lease')
  return f[1] == 'active' and f[2] == token
end

-- finish moves a request to a terminal status, counts it, schedules its
-- expiry and tells waiters.
local function finish(req_key, id, status, stats_key, counter, retention, channel, now)
  redis.call('HSET', req_key, 'status', status, 'ft', now, 'ut', now)
  redis.call('HDEL', req_key, 'lease', 'cxl')
  local prio = redis.call('HGET', req_key, 'prio') or 'low'
  redis.call('HINCRBY', stats_key, prio .. '_' .. counter, 1)
  if retention > 0 then
    redis.call('PEXPIRE', req_key, retention)
  end
  if channel ~= '' then
    redis.call('PUBLISH', channel, id .. ' ' .. status)
  end
end

-- queue_key maps a priority to its queue from the KEYS given.
local function queue_for(prio, qlow, qmed, qlong)
  if prio == 'medium' then return qmed end
  if prio == 'long' then return qlong end
  return qlow
end

-- front_score puts a request back at the head of its queue: it was next in
-- line when it was interrupted.
local function front_score(q)
  local head = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
  if #head == 0 then return now_us() end
  return tonumber(head[2]) - 1
end
