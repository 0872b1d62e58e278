-- Give a seat back, and the marks of its holder. Every step checks that the holder still
-- owns what it gives back, so a late or repeated release never frees someone else's seat.
-- KEYS: 1 day seat map, 2 pending claims, 3 the office's marks
-- ARGV: 1 holder, 2 seat field or '', 3 pending member or '', 4 idempotency mark field or
--       '', 5 resident mark field or '', 6 '1' = only if this call removes the pending
--       member, 7 the channel that hears of freed seats
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
for _, field in ipairs({ARGV[4], ARGV[5]}) do
  if field ~= '' then
    local mark = redis.call('HGET', KEYS[3], field)
    if mark and string.sub(mark, 1, #owned) == owned then
      redis.call('HDEL', KEYS[3], field)
    end
  end
end
return released
