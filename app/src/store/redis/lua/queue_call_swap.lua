-- Writes what call-next decided, if nothing it was decided on changed since it was read
-- (queue_heads.lua): compare, then set. No rule here; the new ticket comes encoded.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 priority streak, 5 recent calls, then the
--       queues that were read (same order)
-- ARGV: 1 counter, 2 counter state read ('' none), 3 streak read ('' none), 4 new streak,
--       5 index of the picked queue (1-based among the queues), 6 picked ticket id,
--       7 its ticket as read, 8 its ticket as called, 9 TTL (s), 10 last index of the
--       recent calls kept, then per queue the head member read ('' none)
-- Returns 'OK' or 'CONFLICT' (read again and decide again).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'CONFLICT'
end
if (redis.call('HGET', KEYS[3], ARGV[1]) or '') ~= ARGV[2]
  or (redis.call('GET', KEYS[4]) or '') ~= ARGV[3]
  or (redis.call('HGET', KEYS[2], ARGV[6]) or '') ~= ARGV[7] then
  return 'CONFLICT'
end
for i = 6, #KEYS do
  local head = redis.call('ZRANGE', KEYS[i], 0, 0)
  if (head[1] or '') ~= ARGV[i + 5] then
    return 'CONFLICT'
  end
end
redis.call('ZREM', KEYS[5 + tonumber(ARGV[5])], ARGV[6])
redis.call('HSET', KEYS[2], ARGV[6], ARGV[8])
redis.call('HSET', KEYS[3], ARGV[1], '0|' .. ARGV[6])
redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[9])
redis.call('LREM', KEYS[5], 0, ARGV[6])
redis.call('LPUSH', KEYS[5], ARGV[6])
redis.call('LTRIM', KEYS[5], 0, ARGV[10])
redis.call('EXPIRE', KEYS[3], ARGV[9])
redis.call('EXPIRE', KEYS[5], ARGV[9])
return 'OK'
