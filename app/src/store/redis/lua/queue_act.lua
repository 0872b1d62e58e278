-- Apply a counter or resident action to a ticket (the rules: domain::queue_day::DayQueue::act).
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 recent calls, 5 issue sequence, 6 service stats,
--       then per line of the office (in ARGV[7] order): reserved, priority, normal queues
-- ARGV: 1 action, 2 ticket id, 3 acting counter or '' (resident), 4 now ms,
--       5 target line or '', 6 '1' to keep the place, 7 lines "a,b,c", 8 nominal minutes
--       by procedure "proc=15,proc=20", 9 TTL (s)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then
  return {'NOTFOUND'}
end
local t = cjson.decode(raw)
local action, counter, now = ARGV[1], ARGV[3], tonumber(ARGV[4])
local lines = {}
for name in string.gmatch(ARGV[7], '[^,]+') do
  table.insert(lines, name)
end
local function queue_key(line, class)
  for i, name in ipairs(lines) do
    if name == line then
      local offset = ({reserved = 0, priority = 1, normal = 2})[class]
      return KEYS[6 + (i - 1) * 3 + offset + 1]
    end
  end
  return nil
end
local function free_counter()
  if t.counter then
    local state = redis.call('HGET', KEYS[3], t.counter)
    if state then
      local paused, current = string.match(state, '^(%d)|(.*)$')
      if current == t.id then
        redis.call('HSET', KEYS[3], t.counter, paused .. '|')
      end
    end
  end
end
local at_counter = counter ~= '' and t.counter == counter
local observed = nil
if action == 'recall' and t.status == 'called' and at_counter then
  t.recalls = t.recalls + 1
  t.called = now
  redis.call('LREM', KEYS[4], 0, t.id)
  redis.call('LPUSH', KEYS[4], t.id)
  redis.call('LTRIM', KEYS[4], 0, 9)
elseif action == 'start' and t.status == 'called' and at_counter then
  t.status = 'serving'
  t.started = now
elseif action == 'finish' and (t.status == 'called' or t.status == 'serving') and at_counter then
  t.status = 'done'
  t.finished = now
  observed = (now - (t.started or t.called or now)) / 60000
  free_counter()
elseif action == 'no_show' and t.status == 'called' and at_counter then
  t.status = 'no_show'
  t.finished = now
  free_counter()
elseif action == 'transfer' and counter ~= '' and queue_key(ARGV[5], t.class)
    and (t.status == 'waiting' or ((t.status == 'called' or t.status == 'serving') and at_counter)) then
  local from = queue_key(t.line, t.class)
  if from then
    redis.call('ZREM', from, t.id)
  end
  free_counter()
  if ARGV[6] ~= '1' and t.class ~= 'reserved' then
    t.order = redis.call('INCR', KEYS[5])
    redis.call('EXPIRE', KEYS[5], ARGV[9])
  end
  t.line = ARGV[5]
  t.status = 'waiting'
  t.counter = nil
  redis.call('ZADD', queue_key(t.line, t.class), t.order, t.id)
elseif action == 'cancel' and t.status == 'waiting' then
  local from = queue_key(t.line, t.class)
  if from then
    redis.call('ZREM', from, t.id)
  end
  t.status = 'cancelled'
  t.finished = now
else
  return {'NOTALLOWED', raw}
end
t.rev = (t.rev or 0) + 1
local json = cjson.encode(t)
redis.call('HSET', KEYS[2], t.id, json)
if observed then
  local nominal = 15
  for proc, minutes in string.gmatch(ARGV[8], '([^=,]+)=([^,]+)') do
    if proc == t.procedure then
      nominal = tonumber(minutes)
    end
  end
  local mean, var, n = nominal, (0.3 * nominal) * (0.3 * nominal), 0
  local stored = redis.call('HGET', KEYS[6], t.procedure)
  if stored then
    local m, v, c = string.match(stored, '^([^|]+)|([^|]+)|(%d+)$')
    mean, var, n = tonumber(m), tonumber(v), tonumber(c)
  end
  local x = math.min(math.max(observed, 0.5), 240)
  local diff = x - mean
  mean = mean + 0.3 * diff
  var = (1 - 0.3) * (var + 0.3 * diff * diff)
  redis.call('HSET', KEYS[6], t.procedure, string.format('%.17g|%.17g|%d', mean, var, n + 1))
end
return {'OK', json}
