-- Replace an office's hot state with a snapshot of the ledger, atomically.
-- KEYS: 1 epoch, 2 resident marks, then N day seat maps, then M idempotency keys
-- ARGV: 1 N, 2 epoch value, then per seat map: TTL (s) and "field=holder\n...",
--       then the resident marks "field=value\n...", then per idempotency key: value, TTL (s)
local maps = tonumber(ARGV[1])
local a = 3
for i = 1, maps do
  local key = KEYS[2 + i]
  redis.call('DEL', key)
  local filled = false
  for entry in string.gmatch(ARGV[a + 1], '[^\n]+') do
    local field, holder = string.match(entry, '^([^=]+)=(.+)$')
    redis.call('HSET', key, field, holder)
    filled = true
  end
  if filled then
    redis.call('EXPIRE', key, ARGV[a])
  end
  a = a + 2
end
redis.call('DEL', KEYS[2])
for entry in string.gmatch(ARGV[a], '[^\n]+') do
  local field, value = string.match(entry, '^([^=]+)=(.+)$')
  redis.call('HSET', KEYS[2], field, value)
end
a = a + 1
for j = 3 + maps, #KEYS do
  redis.call('SET', KEYS[j], ARGV[a], 'EX', ARGV[a + 1])
  a = a + 2
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
