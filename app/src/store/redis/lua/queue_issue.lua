-- Issue a ticket: next number of its line, its place, and a pending entry for the reaper.
-- KEYS: 1 loaded, 2 number counter of the line, 3 issue sequence, 4 tickets,
--       5 pending issues, 6-8 the line's reserved, priority and normal queues
-- ARGV: 1 the ticket's JSON without number, display and order and without its closing
--       brace (they are appended here: cheaper than decoding and encoding it), 2 prefix
--       (1-2 capital letters), 3 slot start ms for a reserved ticket or '', 4 pending
--       member, 5 deadline ms, 6 TTL (s), 7 the index (6, 7 or 8) of its class's queue,
--       8 ticket id
-- Returns {'OK', number, order, display, reserved, priority, normal waiting before it
-- joined}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local n = redis.call('INCR', KEYS[2])
local order = ARGV[3]
if order == '' then
  order = redis.call('INCR', KEYS[3])
end
local display = ARGV[2] .. '-' .. string.format('%03d', n)
local before = {redis.call('ZCARD', KEYS[6]), redis.call('ZCARD', KEYS[7]), redis.call('ZCARD', KEYS[8])}
local json = ARGV[1] .. ',"number":' .. n .. ',"display":"' .. display .. '","order":' .. order .. '}'
local queue = KEYS[tonumber(ARGV[7])]
redis.call('HSET', KEYS[4], ARGV[8], json)
redis.call('ZADD', queue, order, ARGV[8])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[4])
for i = 2, 4 do
  redis.call('EXPIRE', KEYS[i], ARGV[6])
end
redis.call('EXPIRE', queue, ARGV[6])
return {'OK', n, tonumber(order), display, before[1], before[2], before[3]}
