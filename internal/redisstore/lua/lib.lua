-- lib.lua is prepended to every script (see scripts.go), so these helpers
-- exist once in source and in every script's body. Keys are built from the
-- namespace prefix only for request hashes, which share the prefix's hash
-- tag and so the slot of every declared key.

-- now_ms reads the server's clock, so every process shares one clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
  local old = entry_tokens(member)
  if old == actual then return end
  local score = redis.call('ZSCORE', log_key, member)
  if not score or tonumber(score) <= now - window then return end
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

-- queue_for maps a priority to its queue from the KEYS given.
local function queue_for(prio, qlow, qmed, qlong)
  if prio == 'medium' then return qmed end
  if prio == 'long' then return qlong end
  return qlow
end

-- A request that was never leased is kept compact: one string at
-- "qr:<id>" holding "Q1", its creation time, tokens, priority, max retries,
-- timeout and meta pairs, tab-separated, then a newline and the payload
-- (see add.lua). A hash with one large field would lose Redis's compact
-- encoding and cost about 1 KB a request. materialize turns the string into
-- the request hash that the rest of the lifecycle uses.
local function materialize(prefix, id)
  local qkey = prefix .. 'qr:' .. id
  local packed = redis.call('GET', qkey)
  if not packed then return end
  redis.call('DEL', qkey)
  local key = prefix .. 'req:' .. id
  local nl = string.find(packed, '\n', 1, true) or (#packed + 1)
  local f = {}
  for part in string.gmatch(string.sub(packed, 1, nl - 1) .. '\t', '([^\t]*)\t') do
    table.insert(f, part)
  end
  local payload = string.sub(packed, nl + 1)
  if f[1] ~= 'Q1' or #f < 6 then
    -- Left for the lease script to find corrupt and send to the dead letters.
    redis.call('HSET', key, 'status', 'queued', 'prio', 'low', 'tokens', 'corrupt', 'att', 0, 'maxr', 0,
      'payload', payload)
    return
  end
  local args = {'status', 'queued', 'ct', f[2], 'ut', f[2], 'tokens', f[3], 'prio', f[4], 'att', 0,
    'maxr', f[5], 'tmo', f[6], 'payload', payload}
  for i = 7, #f - 1, 2 do
    table.insert(args, 'm:' .. f[i])
    table.insert(args, f[i + 1])
  end
  redis.call('HSET', key, unpack(args))
end
