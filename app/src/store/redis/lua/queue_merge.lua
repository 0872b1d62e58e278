-- A queue reload, one chunk of the ledger's tickets: merge them into an office's day.
-- A ledger copy replaces the live ticket only when the live one is missing or has a lower
-- revision (domain::queue::ledger_copy_wins): a change made since the ledger was read is
-- never undone, and a ticket issued meanwhile is not touched. The winner's place is then
-- re-asserted: in its line's queue of its class while it waits, at its counter while it
-- is called or served (unless another ticket is called or served there).
-- KEYS: 1 tickets, 2 counters, then per line (ARGV[2] order): reserved, priority, normal
-- ARGV: 1 TTL (s), 2 lines "a,b", 3 every counter with the ledger's pause "id=0\n…" (for
--       counters the hot state lacks), 4 ledger copies "id\tjson\n…"
local ttl = ARGV[1]
local base = {}
local n = 0
for name in string.gmatch(ARGV[2], '[^,]+') do
  base[name] = 3 + n * 3
  n = n + 1
end
local classes = {'reserved', 'priority', 'normal'}
local function queue_key(line, i)
  local b = base[line]
  return b and KEYS[b + i - 1]
end
local function serving_at(t, counter)
  return t.counter == counter and (t.status == 'called' or t.status == 'serving')
end
local function counter_state(counter)
  return string.match(redis.call('HGET', KEYS[2], counter) or '0|', '^(%d)|(.*)$')
end
for id, paused in string.gmatch(ARGV[3], '([^=\n]+)=([^\n]+)') do
  redis.call('HSETNX', KEYS[2], id, paused .. '|')
end
for id, json in string.gmatch(ARGV[4], '([^\t\n]+)\t([^\n]+)') do
  local copy = cjson.decode(json)
  local raw = redis.call('HGET', KEYS[1], id)
  local live = raw and cjson.decode(raw)
  local winner = live
  if not live or (live.rev or 0) < (copy.rev or 0) then
    winner = copy
    redis.call('HSET', KEYS[1], id, json)
    if live then
      for i = 1, 3 do
        local key = queue_key(live.line, i)
        if key then
          redis.call('ZREM', key, id)
        end
      end
      if live.counter and not serving_at(copy, live.counter) then
        local paused, current = counter_state(live.counter)
        if current == id then
          redis.call('HSET', KEYS[2], live.counter, paused .. '|')
        end
      end
    end
  end
  for i, class in ipairs(classes) do
    local key = queue_key(winner.line, i)
    if key then
      if winner.status == 'waiting' and winner.class == class then
        redis.call('ZADD', key, winner.order, id)
      else
        redis.call('ZREM', key, id)
      end
    end
  end
  if winner.counter and serving_at(winner, winner.counter) then
    local paused, current = counter_state(winner.counter)
    if current ~= id then
      local other = current ~= '' and redis.call('HGET', KEYS[1], current)
      if not other or not serving_at(cjson.decode(other), winner.counter) then
        redis.call('HSET', KEYS[2], winner.counter, paused .. '|' .. id)
      end
    end
  end
end
for i = 1, #KEYS do
  redis.call('EXPIRE', KEYS[i], ttl)
end
return 1
