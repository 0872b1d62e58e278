-- What an action on a ticket is decided on, read in one step; no rule here (the core
-- decides: domain::queue_day::decide_act), nothing written.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 issue sequence, 5 service stats
-- ARGV: 1 ticket id
-- Returns {'REBUILD'}, {'NOTFOUND'} or {'OK', ticket, state of its counter, issue
-- sequence, service stats of its procedure} with false for what is absent.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return {'NOTFOUND'}
end
local t = cjson.decode(raw)
local state = false
if t.counter then
  state = redis.call('HGET', KEYS[3], t.counter) or false
end
return {'OK', raw, state, redis.call('GET', KEYS[4]) or false,
  redis.call('HGET', KEYS[5], t.procedure) or false}
