-- A visitor's status poll in one round trip (RoomStore::poll).
-- KEYS: began, counters, positions, seen (one room's hash tag).
-- ARGV: now (ms), the place's issue time (ms), the place, the keys' expiry (s).
-- Returns {0} lost line; {1, counters?} draw not made; {2, counters, position?}, always
-- three elements (false for none).
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[4])
if tonumber(ARGV[2]) < tonumber(redis.call('GET', KEYS[1])) then
  return {0, false, false}
end
local counters = redis.call('GET', KEYS[2])
if not counters then
  return {1, false, false}
end
-- serving|rate_since|prequeue|opened (store/redis/room.rs: encode)
local serving, prequeue, opened = string.match(counters, '^(%d+)|%-?%d+|(%d+)|(%d)$')
if opened ~= '1' then
  return {1, counters, false}
end
local position = ARGV[3]
if tonumber(ARGV[3]) <= tonumber(prequeue) then
  position = redis.call('HGET', KEYS[3], ARGV[3])
  if not position then
    return {2, counters, false}
  end
end
if tonumber(position) > tonumber(serving) then
  redis.call('ZADD', KEYS[4], ARGV[1], position)
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
return {2, counters, position}
