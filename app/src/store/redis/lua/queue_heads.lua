-- What call-next decides on, read in one consistent step; no rule here (the core decides:
-- DayQueue::call_next, domain::queue::choose_next), nothing written.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 priority streak, then the queues of the lines
--       the counter serves (reserved, priority, normal per line)
-- ARGV: 1 counter
-- Returns {'REBUILD'} or {'OK', counter state, its current ticket, streak, then per queue:
-- head member, head score, head ticket} with false for what is absent.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local state = redis.call('HGET', KEYS[3], ARGV[1]) or false
local current = false
if state then
  local id = string.match(state, '^%d|(.*)$')
  if id and id ~= '' then
    current = redis.call('HGET', KEYS[2], id) or false
  end
end
local reply = {'OK', state, current, redis.call('GET', KEYS[4]) or false}
for i = 5, #KEYS do
  local head = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if head[1] then
    table.insert(reply, head[1])
    table.insert(reply, head[2])
    table.insert(reply, redis.call('HGET', KEYS[2], head[1]) or false)
  else
    table.insert(reply, false)
    table.insert(reply, false)
    table.insert(reply, false)
  end
end
return reply
