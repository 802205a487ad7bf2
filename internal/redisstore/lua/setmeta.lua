-- setmeta stores one progress value for a running request.
--
-- KEYS[1] -> llmq:{ns}:req:<id>
-- ARGV[1] -> lease token
-- ARGV[2] -> meta key
-- ARGV[3] -> value (JSON text)
--
-- Returns 1, or the error "STALE".
if not owns(KEYS[1], ARGV[1]) then
  return redis.error_reply('STALE')
end
redis.call('HSET', KEYS[1], 'm:' .. ARGV[2], ARGV[3], 'ut', now_ms())
return 1
