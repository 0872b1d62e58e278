-- Writes what an action on a ticket decided, if nothing it was decided on changed since
-- it was read (queue_ticket.lua): compare, then set. No rule here; values come encoded.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 recent calls, 5 issue sequence,
--       6 service stats, 7 the queue it leaves, 8 the queue it joins
-- ARGV: 1 ticket id, 2 ticket as read, 3 ticket as changed,
--       4 its counter ('' none), 5 counter state read, 6 new counter state ('' keep),
--       7 '1' if it goes last: 8 sequence read ('' none), 9 new sequence,
--       10 procedure whose stats change ('' none), 11 stats read ('' none), 12 new stats,
--       13 '1' leaves its queue, 14 '1' joins a queue, 15 its order there,
--       16 '1' recalled, 17 last index of the recent calls kept, 18 TTL (s)
-- Returns 'OK' or 'CONFLICT' (read again and decide again).
if redis.call('EXISTS', KEYS[1]) == 0
  or (redis.call('HGET', KEYS[2], ARGV[1]) or '') ~= ARGV[2]
  or (ARGV[4] ~= '' and (redis.call('HGET', KEYS[3], ARGV[4]) or '') ~= ARGV[5])
  or (ARGV[7] == '1' and (redis.call('GET', KEYS[5]) or '') ~= ARGV[8])
  or (ARGV[10] ~= '' and (redis.call('HGET', KEYS[6], ARGV[10]) or '') ~= ARGV[11]) then
  return 'CONFLICT'
end
if ARGV[13] == '1' then
  redis.call('ZREM', KEYS[7], ARGV[1])
end
if ARGV[14] == '1' then
  redis.call('ZADD', KEYS[8], ARGV[15], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[6])
end
if ARGV[7] == '1' then
  redis.call('SET', KEYS[5], ARGV[9], 'EX', ARGV[18])
end
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[10], ARGV[12])
end
if ARGV[16] == '1' then
  redis.call('LREM', KEYS[4], 0, ARGV[1])
  redis.call('LPUSH', KEYS[4], ARGV[1])
  redis.call('LTRIM', KEYS[4], 0, ARGV[17])
end
return 'OK'
