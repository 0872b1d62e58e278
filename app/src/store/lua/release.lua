-- Give a seat back, and the marks of its holder. Every step checks that the holder still
-- owns what it gives back, so a late or repeated release never frees someone else's seat.
-- KEYS: 1 day seat map, 2 pending claims, 3 idempotency key, 4 resident marks
-- ARGV: 1 holder, 2 seat field or '', 3 pending member or '', 4 '1' to clear the idempotency
--       mark, 5 resident field or '', 6 '1' = only if this call removes the pending member
if ARGV[3] ~= '' then
  local removed = redis.call('ZREM', KEYS[2], ARGV[3])
  if ARGV[6] == '1' and removed == 0 then
    return 0
  end
end
local released = 0
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[1], ARGV[2])
  -- The slot has a free seat again: drop its "full" hint, start the next claim here.
  local time, seat = string.match(ARGV[2], '^([^:]+):(%d+)$')
  if time then
    redis.call('HDEL', KEYS[1], time .. ':full')
    redis.call('HSET', KEYS[1], time .. ':next', seat)
  end
  released = 1
  redis.call('PUBLISH', ARGV[7], KEYS[1])
end
local owned = ARGV[1] .. '|'
if ARGV[4] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen and string.sub(seen, 1, #owned) == owned then
    redis.call('DEL', KEYS[3])
  end
end
if ARGV[5] ~= '' then
  local mark = redis.call('HGET', KEYS[4], ARGV[5])
  if mark and string.sub(mark, 1, #owned) == owned then
    redis.call('HDEL', KEYS[4], ARGV[5])
  end
end
return released
