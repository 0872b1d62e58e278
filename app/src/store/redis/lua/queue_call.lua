-- Call the next ticket to a counter, by the rule of domain::queue::choose_next.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 priority streak, 5 recent calls,
--       then per line the counter serves: reserved, priority, normal queues
-- ARGV: 1 counter, 2 now ms, 3 reserved callable before (ms), 4 priority ratio, 5 TTL (s)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local state = redis.call('HGET', KEYS[3], ARGV[1]) or '0|'
local paused, current = string.match(state, '^(%d)|(.*)$')
if paused == '1' then
  return {'PAUSED'}
end
if current ~= '' then
  local raw = redis.call('HGET', KEYS[2], current)
  if raw then
    local t = cjson.decode(raw)
    if t.status == 'called' or t.status == 'serving' then
      return {'BUSY', raw}
    end
  end
end
local now = tonumber(ARGV[2])
local best = {}
for i = 6, #KEYS, 3 do
  for j, class in ipairs({'r', 'p', 'n'}) do
    local key = KEYS[i + j - 1]
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if head[1] then
      local order = tonumber(head[2])
      local b = best[class]
      if b == nil or order < b[1] then
        best[class] = {order, head[1], key}
      end
    end
  end
end
local streak = tonumber(redis.call('GET', KEYS[4]) or '0')
local ratio = tonumber(ARGV[4])
local pick
if best.r and best.r[1] - tonumber(ARGV[3]) <= now then
  pick = best.r
elseif best.p and (not best.n or streak < ratio) then
  pick = best.p
  streak = streak + 1
elseif best.n then
  pick = best.n
  streak = 0
else
  return {'EMPTY'}
end
redis.call('ZREM', pick[3], pick[2])
local t = cjson.decode(redis.call('HGET', KEYS[2], pick[2]))
t.status = 'called'
t.counter = ARGV[1]
t.called = now
t.rev = (t.rev or 0) + 1
local json = cjson.encode(t)
redis.call('HSET', KEYS[2], t.id, json)
redis.call('HSET', KEYS[3], ARGV[1], '0|' .. t.id)
redis.call('SET', KEYS[4], streak, 'EX', ARGV[5])
redis.call('LREM', KEYS[5], 0, t.id)
redis.call('LPUSH', KEYS[5], t.id)
redis.call('LTRIM', KEYS[5], 0, 9)
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[5])
return {'OK', json}
