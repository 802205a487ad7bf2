-- add stores one or more requests and queues them, all or nothing. A new
-- request is one compact string (see materialize in lib.lua) and one list
-- entry: the queues are lists, FIFO, with interrupted work pushed back at
-- the head.
--
-- Add is idempotent: a request already stored under its ID (compact or as
-- a hash, in any status) whose content digest equals the one given is taken
-- as added and skipped, so a call that is sent again after a lost reply
-- (go-redis resends on a read timeout) answers success. A stored request
-- with another digest, or none (stored before digests), is a duplicate.
--
-- KEYS[1] -> llmq:{ns}:q:low
-- KEYS[2] -> llmq:{ns}:q:medium
-- KEYS[3] -> llmq:{ns}:q:long
-- KEYS[4] -> llmq:{ns}:stats
-- ARGV[1] -> key prefix "llmq:{ns}:"
-- ARGV[2] -> number of requests n (at least 1)
-- ARGV[3] -> pub/sub channel that wakes idle workers ("" = none)
-- ARGV[4...] -> per request, 5 each: id, priority ("low", "medium" or
--               "long"), content digest (hex), header ("tokens\tpriority\t
--               max_retries\ttimeout_ms\tinput tokens\toutput tokens
--               [\tmeta key\tmeta JSON]...", tokens "" when they are
--               input + output), payload
--
-- Returns {1} when every request is stored (added now, or before with the
-- same digest), or {0, id} naming a duplicate ID (then nothing was added).
-- Malformed arguments are an error reply, before any write.
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
if not n or n < 1 or n % 1 ~= 0 or #ARGV ~= 3 + n * 5 then
  return redis.error_reply('ERR add: want 3 + 5 x n arguments, got ' .. #ARGV)
end

-- stored_digest returns the digest of the request stored under id, ''
-- for one stored without a digest, or nil when none is stored.
local function stored_digest(id)
  -- One call for the usual case, an ID not stored in either form.
  if redis.call('EXISTS', prefix .. 'qr:' .. id, prefix .. 'req:' .. id) == 0 then return nil end
  local packed = redis.call('GET', prefix .. 'qr:' .. id)
  if packed then
    return string.match(packed, '^Q[34]\t[^\t\n]*\t([^\t\n]*)\t') or ''
  end
  local h = redis.call('HMGET', prefix .. 'req:' .. id, 'rh', 'status')
  if h[2] then return h[1] or '' end
  return nil
end

local fresh, seen = {}, {}
for r = 0, n - 1 do
  local i = 4 + r * 5
  local id, prio, digest, header = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if id == '' or string.find(id, '[\t\n]') then
    return redis.error_reply('ERR add: request ' .. r .. ': empty id or one with a tab or newline')
  end
  if prio ~= 'low' and prio ~= 'medium' and prio ~= 'long' then
    return redis.error_reply('ERR add: request ' .. r .. ': unknown priority')
  end
  if not string.match(digest, '^%x+$') then
    return redis.error_reply('ERR add: request ' .. r .. ': digest is not hex')
  end
  if string.find(header, '\n', 1, true) or
      not string.match(header, '^%d*\t%a+\t%d+\t%d+\t%d+\t%d+') then
    return redis.error_reply('ERR add: request ' .. r .. ': malformed header')
  end
  if seen[id] then return {0, id} end
  seen[id] = true
  local stored = stored_digest(id)
  if stored == nil then
    table.insert(fresh, i)
  elseif string.sub(stored, 1, #digest) ~= digest then
    -- A request stored before digests were shortened holds a longer one,
    -- of which the new one is the prefix.
    return {0, id}
  end
end

local now = tostring(now_ms())
local added = {low = 0, medium = 0, long = 0}
for _, i in ipairs(fresh) do
  local id, prio = ARGV[i], ARGV[i + 1]
  redis.call('SET', prefix .. 'qr:' .. id,
    'Q4\t' .. now .. '\t' .. ARGV[i + 2] .. '\t' .. ARGV[i + 3] .. '\n' .. ARGV[i + 4])
  redis.call('RPUSH', queue_for(prio, KEYS[1], KEYS[2], KEYS[3]), id)
  added[prio] = added[prio] + 1
end
for prio, c in pairs(added) do
  if c > 0 then redis.call('HINCRBY', KEYS[4], prio .. '_added', c) end
end
if ARGV[3] ~= '' and #fresh > 0 then redis.call('PUBLISH', ARGV[3], #fresh) end
return {1}
