-- Issue a ticket: next number of its line, its place, and a pending entry for the reaper.
-- KEYS: 1 loaded, 2 number counter of the line, 3 issue sequence, 4 tickets, 5 its queue,
--       6 pending issues
-- ARGV: 1 ticket JSON (without number, display, order), 2 prefix, 3 slot start ms for a
--       reserved ticket or '', 4 pending member, 5 deadline ms, 6 TTL (s)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local t = cjson.decode(ARGV[1])
local n = redis.call('INCR', KEYS[2])
t.number = n
t.display = ARGV[2] .. '-' .. string.format('%03d', n)
if ARGV[3] ~= '' then
  t.order = tonumber(ARGV[3])
else
  t.order = redis.call('INCR', KEYS[3])
end
local json = cjson.encode(t)
redis.call('HSET', KEYS[4], t.id, json)
redis.call('ZADD', KEYS[5], t.order, t.id)
redis.call('ZADD', KEYS[6], ARGV[5], ARGV[4])
for i = 2, 5 do
  redis.call('EXPIRE', KEYS[i], ARGV[6])
end
return {'OK', json}
