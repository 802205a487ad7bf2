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
-- KEYS[6]  -> llmq:{ns}:budget:log     (the ledger: see ledger in lib.lua)
-- KEYS[7]  -> llmq:{ns}:budget:sum
-- KEYS[8]  -> llmq:{ns}:budget:isum
-- KEYS[9]  -> llmq:{ns}:budget:osum
-- KEYS[10] -> llmq:{ns}:budget:daylog
-- KEYS[11] -> llmq:{ns}:budget:daysum
-- KEYS[12] -> llmq:{ns}:cycle
-- KEYS[13] -> llmq:{ns}:cooldown    (value = ms until which nothing is leased)
-- KEYS[14] -> llmq:{ns}:stats
-- KEYS[15] -> llmq:{ns}:dead
-- KEYS[16] -> llmq:{ns}:leaseseq
-- KEYS[17] -> llmq:{ns}:lastlease   (field = worker id, value = its last call's leases)
-- KEYS[18] -> llmq:{ns}:control     (hash: "paused" = "1" while processing is
--             paused; "cycle" = "l,m,g" overriding ARGV[7] for every worker)
-- ARGV[1]  -> key prefix "llmq:{ns}:"
-- ARGV[2]  -> max requests to lease
-- ARGV[3]  -> lease duration ms
-- ARGV[4]  -> budget window ms
-- ARGV[5]  -> usable tokens per window (0 = unlimited)
-- ARGV[6]  -> usable requests per window (0 = unlimited)
-- ARGV[7]  -> cycle: low,medium,long slot counts, e.g. "3,2,1"; the
--             control hash's "cycle", when valid, is used instead
-- ARGV[8]  -> worker id
-- ARGV[9]  -> retention ms for requests that die here; dead ids older than
--             this are pruned (0 = keep)
-- ARGV[10] -> pub/sub channel for terminal events ("" = none)
-- ARGV[11] -> call id, unique per worker ("" = not idempotent)
-- ARGV[12] -> usable input tokens per window (0 = unlimited)
-- ARGV[13] -> usable output tokens per window (0 = unlimited)
-- ARGV[14] -> usable tokens per day (0 = unlimited)
-- ARGV[15] -> usable requests per day (0 = unlimited)
-- ARGV[16] -> token nonce: appended to each lease token ("<seq>.<nonce>"),
--             so tokens stay unique when leaseseq is set back by a lost write
-- ARGV[17] -> deployment mode: "" when the ledger is the only one serving
--             the queues (a request whose estimate can never fit it is put
--             to death); "shared" when it is one deployment of several
--             (such a request is left to the others: the class is skipped
--             for this call); "fallback" as shared, and it takes only
--             requests that failed over on another deployment
-- ARGV[18] -> the deployment's spend limit per UTC day, nano-USD (0 = none)
-- ARGV[19] -> its price of an input token, nano-USD (for the estimate)
-- ARGV[20] -> its price of an output token, nano-USD
-- ARGV[21] -> the deployment's name: in a shared or fallback mode, a request
--             pinned to deployments (meta "llmqueue.deployments", a JSON
--             array of names) that do not include it is left to the others
--
-- With a spend limit, a lease also reserves the request's estimated cost
-- (its charge at the prices given) in "<prefix>dep:<day>:spend"-style key
-- <ledger log key>:spend:<UTC day number>, writes it to the request as
-- "ec" (and the key as "sk"), and refuses a request whose estimate would
-- take the day's spend past the limit: reason "spend", wait until the next
-- UTC day. complete.lua trues the reservation up to the real cost;
-- fail.lua gives it back when the ledger's reservation is given back.
--
-- Returns {leased, wait_ms, reason, cycle, killed, job...}: killed is the
-- flat {id, why, ...} of the requests this call put to death (lease expired
-- with retries spent, corrupt, estimate over a limit), so the worker that
-- made the call logs each once; cycle is
-- {spec, start_pos, end_pos, wrapped, after_wrap} (the cycle in force, the
-- shared position before and after, 1 when the position passed the end of
-- the cycle in this call, and how many leases came after that); reason is
-- "ok", "empty", "paused", "cooldown" or the budget dimension that binds: "tokens", "input_tokens",
-- "output_tokens", "requests", "tokens_per_day" or "requests_per_day";
-- wait_ms says how long until the head request fits (or the next retry is
-- due; -1 when nothing is scheduled).
--
-- A request is admitted only when its charge fits every limited dimension;
-- its charge is its "tokens", "cin" and "cout" fields (a request stored
-- before input and output were tracked counts all its tokens as input).
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
local nonce = ARGV[16]
local mode = ARGV[17] or ''
local spend_limit = tonumber(ARGV[18] or '0')
local price_in, price_out = tonumber(ARGV[19] or '0'), tonumber(ARGV[20] or '0')
local dep_quoted = '"' .. (ARGV[21] or '') .. '"'
if not spend_limit or spend_limit < 0 or not price_in or price_in < 0 or not price_out or price_out < 0 then
  return redis.error_reply('BADARG lease: spend limit or prices')
end
if mode ~= '' and mode ~= 'shared' and mode ~= 'fallback' then
  return redis.error_reply('BADARG lease: deployment mode')
end
if not nonce or nonce == '' or string.find(nonce, '[:\t\n]') then
  return redis.error_reply('BADARG lease: token nonce')
end
local lim = {t = tpm, i = tonumber(ARGV[12]), o = tonumber(ARGV[13]), r = rpm,
  dt = tonumber(ARGV[14]), dr = tonumber(ARGV[15])}
for name, v in pairs(lim) do
  if not v or v < 0 then return redis.error_reply('BADARG limit ' .. name) end
end
local day = lim.dt > 0 or lim.dr > 0
local L = ledger(6)
local now = now_ms()

local function job_reply(key, id)
  local job = redis.call('HGETALL', key)
  table.insert(job, 'id')
  table.insert(job, id)
  return job
end

if call ~= '' then
  local prev = redis.call('HGET', KEYS[17], worker)
  if prev then
    local nl = string.find(prev, '\n', 1, true)
    if nl and string.sub(prev, 1, nl - 1) == call then
      local out = {0, 0, 'ok', {'', 0, 0, 0, 0}, {}}
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

local killed = {}

local function kill(id, key, msg)
  table.insert(killed, id)
  table.insert(killed, msg)
  redis.call('HSET', key, 'err', msg)
  redis.call('ZADD', KEYS[15], now, id)
  finish(key, id, 'dead', KEYS[14], 'failed', retention, channel, now)
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
      finish(key, id, 'canceled', KEYS[14], 'canceled', retention, channel, now)
    elseif (tonumber(f[2]) or 0) > (tonumber(f[3]) or 0) then
      kill(id, key, 'lease expired; retries spent')
    else
      redis.call('HSET', key, 'status', 'queued', 'ut', now, 'err', 'lease expired')
      redis.call('HINCRBY', KEYS[14], (f[4] or 'low') .. '_recovered', 1)
      redis.call('LPUSH', queues[f[4]] or KEYS[1], id)
    end
  end
end

-- A dead request's hash expires with the retention, its score being the
-- time it died: ids older than that name nothing, so they leave the dead
-- set here, where every worker passes often, a bounded batch per call.
if (retention or 0) > 0 then
  local gone = redis.call('ZCOUNT', KEYS[15], '-inf', '(' .. int_str(now - retention))
  if gone > 0 then redis.call('ZREMRANGEBYRANK', KEYS[15], 0, math.min(gone, 200) - 1) end
end

-- The control hash: a paused namespace leases nothing (expired leases and
-- due retries above still go back to their queues); a cycle set there is
-- every worker's. A malformed cycle is ignored, not obeyed.
local ctl = redis.call('HMGET', KEYS[18], 'paused', 'cycle')
local spec = ARGV[7]
if ctl[2] and parse_cycle(ctl[2]) then spec = ctl[2] end
local no_cycle = {spec, 0, 0, 0, 0}
if ctl[1] == '1' then
  return {0, -1, 'paused', no_cycle, killed}
end

local cd = tonumber(redis.call('GET', KEYS[13]) or '')
if cd and cd > now then
  return {0, cd - now, 'cooldown', no_cycle, killed}
end

local used = trim(L, now, window, day)

-- The cycle: a sequence of classes, one per slot.
local counts = parse_cycle(spec)
if not counts then return redis.error_reply('BADARG lease: cycle') end
local seq = {}
local names = {'low', 'medium', 'long'}
for ci, c in ipairs(counts) do
  for _ = 1, c do table.insert(seq, names[ci]) end
end
local slots = #seq
local pos = (tonumber(redis.call('GET', KEYS[12]) or '0') or 0) % slots
local start_pos, wrapped, after_wrap = pos, 0, 0

-- wait_for returns ms until `need` more of a dimension frees up in a log,
-- walking it from its oldest entry; count(member) is what one entry holds.
local function wait_for(log_key, span, need, count)
  local from = 0
  while true do
    local entries = redis.call('ZRANGE', log_key, from, from + 499, 'WITHSCORES')
    if #entries == 0 then return span end
    for n = 1, #entries, 2 do
      need = need - count(entries[n])
      if need <= 0 then
        return math.max(1, tonumber(entries[n + 1]) + span - now + 1)
      end
    end
    from = from + 500
  end
end
local function tokens_of(m) local t = entry_charge(m) return t end
local function input_of(m) local _, i = entry_charge(m) return i end
local function output_of(m) local _, _, o = entry_charge(m) return o end
local function one() return 1 end

-- dims lists the budget's dimensions in the order a shortage is reported:
-- the charge and ledger field each reads, and how to wait for it.
local dims = {
  {name = 'tokens', limit = lim.t, field = 't', log = L.log, span = window, count = tokens_of},
  {name = 'input_tokens', limit = lim.i, field = 'i', log = L.log, span = window, count = input_of},
  {name = 'output_tokens', limit = lim.o, field = 'o', log = L.log, span = window, count = output_of},
  {name = 'requests', limit = lim.r, field = 'r', log = L.log, span = window, count = one},
  {name = 'tokens_per_day', limit = lim.dt, field = 'dt', log = L.daylog, span = DAY_MS, count = tokens_of},
  {name = 'requests_per_day', limit = lim.dr, field = 'dr', log = L.daylog, span = DAY_MS, count = one},
}

-- shortfall checks a charge against every limited dimension. It returns
-- nil when the charge fits now; else the dimension that frees up last and
-- how long that takes, and whether the charge can never fit.
local function shortfall(charge)
  local reason, wait = nil, 0
  for _, d in ipairs(dims) do
    local c = charge[d.field]
    if d.limit > 0 and c > 0 then
      if c > d.limit then return d.name, 0, true end
      local over = used[d.field] + c - d.limit
      if over > 0 then
        local w = wait_for(d.log, d.span, over, d.count)
        if not reason or w > wait then reason, wait = d.name, w end
      end
    end
  end
  return reason, wait, false
end

local out = {0, 0, 'ok', {}, killed}
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
  if found < pos then wrapped, after_wrap = 1, 0 end
  pos = found
  local q = queues[seq[pos + 1]]
  local id = redis.call('LINDEX', q, 0)
  materialize(prefix, id)
  local key = prefix .. 'req:' .. id
  local f = redis.call('HMGET', key, 'status', 'tokens', 'prio', 'cin', 'cout', 'att', 'fo', 'm:llmqueue.deployments')
  local tokens = tonumber(f[2])
  local cin, cout = tonumber(f[4] or f[2]), tonumber(f[5] or '0')
  if not f[1] or f[1] ~= 'queued' then
    -- Expired, deleted or no longer queued: nothing to run.
    redis.call('LPOP', q)
  elseif not valid_count(tokens) or not valid_count(cin) or not valid_count(cout)
      or not valid_count(tonumber(f[6] or '0')) or not queues[f[3] or ''] then
    redis.call('LPOP', q)
    kill(id, key, 'corrupt request: bad tokens, attempts or priority')
  elseif mode == 'fallback' and (tonumber(f[7] or '0') or 0) == 0 then
    -- Not failed over yet: the primary deployments' to run.
    empty[seq[pos + 1]] = true
  elseif mode ~= '' and f[8] and not string.find(f[8], dep_quoted, 1, true) then
    -- Pinned to other deployments.
    empty[seq[pos + 1]] = true
  else
    local charge = {t = tokens, i = cin, o = cout, r = 1, dt = tokens, dr = 1}
    local reason, wait, never = shortfall(charge)
    local est_cost, spend_key = 0, nil
    if not reason and spend_limit > 0 then
      est_cost = math.ceil(cin * price_in + cout * price_out)
      local today = math.floor(now / DAY_MS)
      spend_key = KEYS[6] .. ':spend:' .. int_str(today)
      local spent = tonumber(redis.call('GET', spend_key) or '0') or 0
      if est_cost > spend_limit then
        reason, never = 'spend', true
      elseif spent + est_cost > spend_limit then
        reason, wait = 'spend', math.max(1, (today + 1) * DAY_MS - now)
      end
    end
    if never and mode ~= '' then
      -- Too big for this deployment: another may take it.
      empty[seq[pos + 1]] = true
    elseif never then
      redis.call('LPOP', q)
      kill(id, key, 'estimate exceeds the usable ' .. reason .. ' limit')
    elseif reason then
      out[2], out[3] = wait, reason
      break
    else
      local token = int_str(redis.call('INCR', KEYS[16])) .. '.' .. nonce
      redis.call('LPOP', q)
      local member, dm = reserve(L, now, tokens, cin, cout, id .. ':' .. token, day)
      for name, c in pairs(charge) do used[name] = used[name] + c end
      redis.call('HINCRBY', key, 'att', 1)
      redis.call('HSET', key, 'status', 'active', 'lease', token, 'bm', member,
        'st', now, 'ut', now, 'wid', worker)
      if dm then redis.call('HSET', key, 'dm', dm) else redis.call('HDEL', key, 'dm') end
      if spend_key then
        redis.call('INCRBY', spend_key, est_cost)
        redis.call('PEXPIRE', spend_key, 2 * DAY_MS)
        redis.call('HSET', key, 'ec', est_cost, 'sk', spend_key)
      else
        redis.call('HDEL', key, 'ec', 'sk')
      end
      redis.call('ZADD', KEYS[4], now + lease_ms, id)
      table.insert(out, job_reply(key, id))
      table.insert(record, token .. '\t' .. id)
      leased = leased + 1
      after_wrap = after_wrap + 1
      pos = (pos + 1) % slots
      if pos == 0 then wrapped, after_wrap = 1, 0 end
    end
  end
end
redis.call('SET', KEYS[12], pos)
out[1] = leased
out[4] = {spec, start_pos, pos, wrapped, after_wrap}
if call ~= '' then
  if leased > 0 then
    redis.call('HSET', KEYS[17], worker, call .. '\n' .. table.concat(record, '\n'))
  else
    redis.call('HDEL', KEYS[17], worker)
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
