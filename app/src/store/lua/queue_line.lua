-- One line's queue in constant time: counts per class, a ticket's rank in its class,
-- the counters (paused/current) and the learnt service times.
-- KEYS: 1 loaded, 2 counters, 3 service stats, 4 reserved, 5 priority, 6 normal queues
-- ARGV: 1 ticket id or '', 2 its class queue index (4, 5 or 6) or ''
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local rank = -1
if ARGV[1] ~= '' then
  local r = redis.call('ZRANK', KEYS[tonumber(ARGV[2])], ARGV[1])
  if r then
    rank = r
  end
end
return {'OK', redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[6]), rank,
        redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
