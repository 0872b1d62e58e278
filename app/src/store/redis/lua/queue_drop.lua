-- Remove a ticket entirely; with a pending member, only if this call removes it.
-- KEYS: 1 pending issues, 2 tickets, 3 counters, 4 recent calls, then every queue of the day
-- ARGV: 1 ticket id, 2 pending member or ''
if ARGV[2] ~= '' then
  local removed = redis.call('ZREM', KEYS[1], ARGV[2])
  if removed == 0 then
    return 0
  end
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return 0
end
for i = 5, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
local t = cjson.decode(raw)
if t.counter then
  local state = redis.call('HGET', KEYS[3], t.counter)
  if state then
    local paused, current = string.match(state, '^(%d)|(.*)$')
    if current == ARGV[1] then
      redis.call('HSET', KEYS[3], t.counter, paused .. '|')
    end
  end
end
redis.call('LREM', KEYS[4], 0, ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
