-- lib.lua holds the helpers the scripts share; each script is built with
-- the definitions here that it uses (see prelude.go), so they exist once
-- in source. Every top-level definition starts at column 0 with its
-- comment above it. Keys are built from the namespace prefix only for
-- request hashes, which share the prefix's hash tag and so the slot of
-- every declared key.

-- now_ms reads the server's clock, so every process shares one clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- int_str writes an integer without Lua's "%.14g", which turns 1e14 into
-- "1e+14" (read back as 1): counts are capped at 1e12 by Go and exact in a
-- double.
local function int_str(n)
  return string.format('%.0f', n)
end

-- MAX_COUNT bounds every token count a script accepts (Go caps counts at
-- llmqueue.MaxTokens, 1e12).
local MAX_COUNT = 1e12

-- valid_count reports whether n is a whole number in [0, MAX_COUNT].
local function valid_count(n)
  return n ~= nil and n >= 0 and n <= MAX_COUNT and n == math.floor(n)
end

-- The ledger. Its keys come in one fixed order, wherever a script touches
-- the budget, so every script reads and writes it the same way:
--   log    sorted set, score = reservation ms, member = "t,i,o:id:lease"
--          (tokens, input tokens, output tokens; an entry written before
--          input and output were tracked is "t:id:lease")
--   sum    running sum of t over log, so admission is O(1)
--   isum   running sum of i
--   osum   running sum of o
--   daylog sorted set like log over 24 hours, member "t:id:lease"; only
--          written when a per-day limit is set
--   daysum running sum of t over daylog
-- Requests are counted by the logs' cardinality.
local function ledger(first)
  return {log = KEYS[first], sum = KEYS[first + 1], isum = KEYS[first + 2], osum = KEYS[first + 3],
    daylog = KEYS[first + 4], daysum = KEYS[first + 5]}
end

-- DAY_MS is the window of the per-day limits.
local DAY_MS = 86400000

-- entry_charge reads the tokens, input and output tokens of a log member.
local function entry_charge(member)
  local t, i, o = string.match(member, '^(%d+),(%d+),(%d+):')
  if t then return tonumber(t), tonumber(i), tonumber(o) end
  t = string.match(member, '^(%-?%d+):')
  return tonumber(t) or 0, 0, 0
end

-- entry_rest is a member without its charge: "id:lease".
local function entry_rest(member)
  return string.match(member, '^[%d,%-]+:(.*)$') or member
end

-- get_num reads a number stored as a string key; 0 when it is absent.
local function get_num(key)
  return tonumber(redis.call('GET', key) or '0') or 0
end

-- trim_log drops a log's entries older than the window and takes them off
-- its sums (sum_keys[k] gets the k-th count of each entry).
local function trim_log(log_key, sum_keys, now, window)
  local cutoff = now - window
  local old = redis.call('ZRANGEBYSCORE', log_key, '-inf', cutoff)
  if #old > 0 then
    local freed = {0, 0, 0}
    for n = 1, #old do
      local t, i, o = entry_charge(old[n])
      freed[1], freed[2], freed[3] = freed[1] + t, freed[2] + i, freed[3] + o
    end
    redis.call('ZREMRANGEBYSCORE', log_key, '-inf', cutoff)
    local empty = redis.call('ZCARD', log_key) == 0
    for k, key in ipairs(sum_keys) do
      if freed[k] ~= 0 then
        local left = redis.call('DECRBY', key, freed[k])
        if left < 0 or empty then redis.call('SET', key, 0) end
      elseif empty then
        redis.call('SET', key, 0)
      end
    end
  elseif redis.call('ZCARD', log_key) == 0 then
    -- An empty log holds nothing, whatever its sums say. The log can be
    -- evicted or deleted while its sums stay, and with no entry left to
    -- expire they would bind every lease forever.
    for _, key in ipairs(sum_keys) do
      local v = redis.call('GET', key)
      if v and v ~= '0' then redis.call('SET', key, 0) end
    end
  end
end

-- trim drops expired entries from the ledger and returns its state:
-- {t, i, o, requests, day_t, day_requests}. day is false when no per-day
-- limit is set (the day log is then neither trimmed nor read).
local function trim(L, now, window, day)
  trim_log(L.log, {L.sum, L.isum, L.osum}, now, window)
  local st = {t = get_num(L.sum), i = get_num(L.isum), o = get_num(L.osum),
    r = redis.call('ZCARD', L.log), dt = 0, dr = 0}
  if day then
    trim_log(L.daylog, {L.daysum}, now, DAY_MS)
    st.dt, st.dr = get_num(L.daysum), redis.call('ZCARD', L.daylog)
  end
  return st
end

-- reserve books a charge in the ledger at now and returns the members
-- written (the day member is false when no per-day limit is set).
local function reserve(L, now, t, i, o, rest, day)
  local member = int_str(t) .. ',' .. int_str(i) .. ',' .. int_str(o) .. ':' .. rest
  redis.call('ZADD', L.log, now, member)
  if t ~= 0 then redis.call('INCRBY', L.sum, t) end
  if i ~= 0 then redis.call('INCRBY', L.isum, i) end
  if o ~= 0 then redis.call('INCRBY', L.osum, o) end
  local dm = false
  if day then
    dm = int_str(t) .. ':' .. rest
    redis.call('ZADD', L.daylog, now, dm)
    if t ~= 0 then redis.call('INCRBY', L.daysum, t) end
  end
  return member, dm
end

-- settle replaces a request's reservation with its final charge (t, i, o;
-- t < 0 keeps it), keeping the reservation's time. An entry already out of
-- its window is left alone: it no longer counts, and charging it now would
-- move usage into the wrong window.
local function settle(L, req_key, t, i, o, now, window)
  if t < 0 then return end
  local member = redis.call('HGET', req_key, 'bm')
  if member then
    local ot, oi, oo = entry_charge(member)
    local score = redis.call('ZSCORE', L.log, member)
    if (ot ~= t or oi ~= i or oo ~= o) and score and tonumber(score) > now - window then
      local fresh = int_str(t) .. ',' .. int_str(i) .. ',' .. int_str(o) .. ':' .. entry_rest(member)
      redis.call('ZREM', L.log, member)
      redis.call('ZADD', L.log, score, fresh)
      if t ~= ot then redis.call('INCRBY', L.sum, t - ot) end
      if i ~= oi then redis.call('INCRBY', L.isum, i - oi) end
      if o ~= oo then redis.call('INCRBY', L.osum, o - oo) end
      redis.call('HSET', req_key, 'bm', fresh)
    end
  end
  local dm = redis.call('HGET', req_key, 'dm')
  if dm then
    local ot = entry_charge(dm)
    local score = redis.call('ZSCORE', L.daylog, dm)
    if ot ~= t and score and tonumber(score) > now - DAY_MS then
      local fresh = int_str(t) .. ':' .. entry_rest(dm)
      redis.call('ZREM', L.daylog, dm)
      redis.call('ZADD', L.daylog, score, fresh)
      redis.call('INCRBY', L.daysum, t - ot)
      redis.call('HSET', req_key, 'dm', fresh)
    end
  end
end

-- feedback takes the provider's word about its own window, read from the
-- rate-limit headers of a reply: fb holds, per dimension, the queue's
-- usable limit and what the provider says remains (lt/rt tokens, lr/rr
-- requests, li/ri input, lo/ro output; a limit <= 0 or a remaining < 0
-- means not enforced or not said). Where the provider has less room than
-- the ledger thinks the queue has (traffic that bypassed the queue, an
-- estimate that fell short, a provider limit lower than the Budget's), the
-- difference is booked now, so it counts for the rest of the window. The
-- ledger is never lowered: an older reply's headers cannot free what a
-- newer call holds. Returns the tokens booked.
local function feedback(L, seq_key, now, fb)
  local function gap(limit, remaining, key)
    if limit <= 0 or remaining < 0 then return 0 end
    return math.max(0, (limit - get_num(key)) - remaining)
  end
  local gt, gi, go = gap(fb.lt, fb.rt, L.sum), gap(fb.li, fb.ri, L.isum), gap(fb.lo, fb.ro, L.osum)
  if gt > 0 or gi > 0 or go > 0 then
    reserve(L, now, gt, gi, go, 'provider:' .. redis.call('INCR', seq_key), false)
  end
  if fb.lr > 0 and fb.rr >= 0 then
    local missing = (fb.lr - redis.call('ZCARD', L.log)) - fb.rr
    for _ = 1, math.min(missing, 1000) do
      redis.call('ZADD', L.log, now, '0,0,0:provider:' .. redis.call('INCR', seq_key))
    end
  end
  return gt
end

-- read_feedback reads the eight feedback values starting at ARGV[first]:
-- lt, rt, lr, rr, li, ri, lo, ro. It returns nil when one is not a number.
local function read_feedback(first)
  local names = {'lt', 'rt', 'lr', 'rr', 'li', 'ri', 'lo', 'ro'}
  local fb = {}
  for k, name in ipairs(names) do
    local v = tonumber(ARGV[first + k - 1])
    if not v then return nil end
    fb[name] = v
  end
  return fb
end

-- parse_cycle reads a cycle spec "low,medium,long": three slot counts of
-- 1-1000 (a class without a slot would starve). It returns the counts, or
-- nil.
local function parse_cycle(spec)
  if type(spec) ~= 'string' then return nil end
  local l, m, g = string.match(spec, '^(%d+),(%d+),(%d+)$')
  if not l then return nil end
  local c = {tonumber(l), tonumber(m), tonumber(g)}
  for _, n in ipairs(c) do
    if n < 1 or n > 1000 then return nil end
  end
  return c
end

-- owns reports whether token still holds the request's lease, and
-- returns the values of any further fields named, read in the same call
-- (the scripts that settle a spend reservation ask for "ec" and "sk").
local function owns(req_key, token, ...)
  local f = redis.call('HMGET', req_key, 'status', 'lease', ...)
  return f[1] == 'active' and f[2] == token, f[3], f[4]
end

-- RECENT_BUCKET_MS and RECENT_KEEP_MS shape the recent counters behind
-- Metrics.LastMinute: events counted in 10-second buckets
-- (<stats key>:recent:<now / 10 s>, a hash of counter -> count), each kept
-- two minutes, so the last minute is 6 buckets and a share of a seventh
-- (see snapshot.lua) and nothing needs pruning.
local RECENT_BUCKET_MS, RECENT_KEEP_MS = 10000, 130000

-- count_recent counts one event of counter in the current recent bucket.
local function count_recent(stats_key, counter, now)
  local k = stats_key .. ':recent:' .. int_str(math.floor(now / RECENT_BUCKET_MS))
  redis.call('HINCRBY', k, counter, 1)
  redis.call('PEXPIRE', k, RECENT_KEEP_MS)
end

-- true_up_spend moves the spend a lease reserved for key's request (its
-- "ec" in the day's spend key "sk", see lease.lua, as owns read them) to
-- cost, the real one, and forgets the reservation. A request leased
-- without a spend limit has none, and costs no call here.
local function true_up_spend(key, cost, ec, sk)
  ec = tonumber(ec or '')
  if ec and sk then
    if cost ~= ec and redis.call('EXISTS', sk) == 1 then
      redis.call('INCRBY', sk, cost - ec)
    end
    redis.call('HDEL', key, 'ec', 'sk')
  end
end

-- finish moves a request to a terminal status, counts it, schedules its
-- expiry and tells waiters. A caller that finishes many requests in one
-- call passes no_recent and counts them in the recent bucket once.
local function finish(req_key, id, status, stats_key, counter, retention, channel, now, no_recent)
  redis.call('HSET', req_key, 'status', status, 'ft', now, 'ut', now)
  redis.call('HDEL', req_key, 'lease', 'cxl')
  local prio = redis.call('HGET', req_key, 'prio') or 'low'
  redis.call('HINCRBY', stats_key, prio .. '_' .. counter, 1)
  if not no_recent then count_recent(stats_key, counter, now) end
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
-- "qr:<id>" holding "Q4", its creation time, its content digest (see
-- add.lua), tokens ("" when they are input + output, the usual case),
-- priority, max retries, timeout, input and output tokens and meta pairs,
-- tab-separated, then a newline and the payload. A hash with
-- one large field would lose Redis's compact encoding and cost about 1 KB a
-- request. materialize turns the string into the request hash that the rest
-- of the lifecycle uses. It writes the hash in chunks of at most 100 fields
-- (one HSET with thousands of arguments fails with "too many results to
-- unpack") and deletes the string only once the hash is whole, so a failed
-- write leaves the request readable.
local function materialize(prefix, id)
  local qkey = prefix .. 'qr:' .. id
  local packed = redis.call('GET', qkey)
  if not packed then return end
  local key = prefix .. 'req:' .. id
  local nl = string.find(packed, '\n', 1, true) or (#packed + 1)
  local f = {}
  for part in string.gmatch(string.sub(packed, 1, nl - 1) .. '\t', '([^\t]*)\t') do
    table.insert(f, part)
  end
  local payload = string.sub(packed, nl + 1)
  -- Q1 is the form before input and output charges were stored; Q2 adds
  -- them after the timeout; Q3 adds the content digest after the time;
  -- Q4 leaves tokens empty when they are input + output (every byte
  -- counts: 200-byte payloads fit jemalloc's 256-byte class, not 320).
  local args
  if f[1] == 'Q4' then
    -- Digits only, as Unpack reads them (tonumber would take '0x10').
    local cin, cout = string.match(f[8] or '', '^%d+$'), string.match(f[9] or '', '^%d+$')
    if f[4] == '' and cin and cout then f[4] = string.format('%.0f', tonumber(cin) + tonumber(cout)) end
    f[1] = 'Q3'
  end
  if f[1] == 'Q3' then
    local digest = table.remove(f, 3)
    args = {'rh', digest}
    f[1] = 'Q2'
  end
  local meta_at = ({Q1 = 7, Q2 = 9})[f[1]]
  if not meta_at or #f < meta_at - 1 then
    -- Left for the lease script to find corrupt and send to the dead letters.
    redis.call('HSET', key, 'status', 'queued', 'prio', 'low', 'tokens', 'corrupt', 'att', 0, 'maxr', 0,
      'payload', payload)
    redis.call('DEL', qkey)
    return
  end
  args = args or {}
  for _, v in ipairs({'status', 'queued', 'ct', f[2], 'ut', f[2], 'tokens', f[3], 'prio', f[4], 'att', 0,
      'maxr', f[5], 'tmo', f[6], 'payload', payload}) do
    table.insert(args, v)
  end
  if f[1] == 'Q2' then
    table.insert(args, 'cin')
    table.insert(args, f[7])
    table.insert(args, 'cout')
    table.insert(args, f[8])
  end
  for i = meta_at, #f - 1, 2 do
    table.insert(args, 'm:' .. f[i])
    table.insert(args, f[i + 1])
  end
  for i = 1, #args, 200 do
    redis.call('HSET', key, unpack(args, i, math.min(i + 199, #args)))
  end
  redis.call('DEL', qkey)
end
