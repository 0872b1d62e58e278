-- Set the one-active-booking mark of a resident (when a hold is confirmed).
-- KEYS: 1 epoch, 2 the office's marks. ARGV: 1 field, 2 holder, 3 until (unix s), 4 now (unix s)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'REBUILD'
end
local mark = redis.call('HGET', KEYS[2], ARGV[1])
if mark then
  local owner, valid_until = string.match(mark, '^([^|]+)|(%d+)$')
  if owner ~= ARGV[2] and tonumber(valid_until) > tonumber(ARGV[4]) then
    return 'RESIDENT'
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
return 'OK'
