-- Read an office's queues for a day in one consistent step, in time proportional to its
-- lines and counters (never to the people waiting).
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 recent calls, 5 service stats,
--       then per line: reserved, priority, normal queues
-- Returns: {'OK', waiting count per queue key, counters {id, state, ...}, current ticket
--           JSONs, recent JSONs, stats {proc, value, ...}}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local waiting = {}
for i = 6, #KEYS do
  table.insert(waiting, redis.call('ZCARD', KEYS[i]))
end
local counters = redis.call('HGETALL', KEYS[3])
local current = {}
for i = 2, #counters, 2 do
  local _, id = string.match(counters[i], '^(%d)|(.*)$')
  table.insert(current, (id ~= '' and redis.call('HGET', KEYS[2], id)) or '')
end
local recent = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  local raw = redis.call('HGET', KEYS[2], id)
  if raw then
    table.insert(recent, raw)
  end
end
return {'OK', waiting, counters, current, recent, redis.call('HGETALL', KEYS[5])}
