-- The end of a queue reload (after every chunk of queue_merge.lua): counters point only at
-- a ticket called or served there, the issue sequence and the numbers never go back, the
-- recent calls come from the ledger where the hot state has none, service times are the
-- ledger's; then the day is marked loaded.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 recent calls, 5 issue sequence, 6 service stats,
--       then per line: its number counter
-- ARGV: 1 TTL (s), 2 the ledger's highest sequence, 3 recent ids (newest first) "id\n…",
--       4 stats "proc=value\n…", then per line (KEYS order): the ledger's highest number
local ttl = ARGV[1]
local states = redis.call('HGETALL', KEYS[3])
for i = 1, #states, 2 do
  local counter = states[i]
  local paused, current = string.match(states[i + 1], '^(%d)|(.*)$')
  if current ~= '' then
    local raw = redis.call('HGET', KEYS[2], current)
    local t = raw and cjson.decode(raw)
    if not t or t.counter ~= counter or not (t.status == 'called' or t.status == 'serving') then
      redis.call('HSET', KEYS[3], counter, paused .. '|')
    end
  end
end
local function raise(key, value)
  if tonumber(redis.call('GET', key) or '0') < tonumber(value) then
    redis.call('SET', key, value)
  end
  redis.call('EXPIRE', key, ttl)
end
raise(KEYS[5], ARGV[2])
for k = 7, #KEYS do
  raise(KEYS[k], ARGV[k - 2])
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  for id in string.gmatch(ARGV[3], '[^\n]+') do
    redis.call('RPUSH', KEYS[4], id)
  end
end
redis.call('DEL', KEYS[6])
for proc, value in string.gmatch(ARGV[4], '([^=\n]+)=([^\n]+)') do
  redis.call('HSET', KEYS[6], proc, value)
end
for i = 2, 4 do
  redis.call('EXPIRE', KEYS[i], ttl)
end
redis.call('SET', KEYS[1], '1', 'EX', ttl)
return 1
