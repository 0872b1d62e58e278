-- Replace an office's queues for a day with the ledger's state, atomically.
-- KEYS: 1 loaded, 2 tickets, 3 counters, 4 recent calls, 5 issue sequence, 6 streak,
--       7 service stats, then per line: number counter, reserved, priority, normal queues
-- ARGV: 1 TTL (s), 2 sequence, 3 tickets "id\tjson\n...", 4 counters "id=state\n...",
--       5 recent ids (newest first) "id\n...", 6 stats "proc=value\n...",
--       then per line: max number, then "order id\n..." for each of its three queues
for i = 2, #KEYS do
  redis.call('DEL', KEYS[i])
end
local ttl = ARGV[1]
for id, json in string.gmatch(ARGV[3], '([^\t\n]+)\t([^\n]+)') do
  redis.call('HSET', KEYS[2], id, json)
end
for id, state in string.gmatch(ARGV[4], '([^=\n]+)=([^\n]*)') do
  redis.call('HSET', KEYS[3], id, state)
end
for id in string.gmatch(ARGV[5], '[^\n]+') do
  redis.call('RPUSH', KEYS[4], id)
end
redis.call('SET', KEYS[5], ARGV[2], 'EX', ttl)
for proc, value in string.gmatch(ARGV[6], '([^=\n]+)=([^\n]+)') do
  redis.call('HSET', KEYS[7], proc, value)
end
local a = 7
for k = 8, #KEYS, 4 do
  redis.call('SET', KEYS[k], ARGV[a], 'EX', ttl)
  for q = 1, 3 do
    for order, id in string.gmatch(ARGV[a + q], '([^ \n]+) ([^\n]+)') do
      redis.call('ZADD', KEYS[k + q], order, id)
    end
    redis.call('EXPIRE', KEYS[k + q], ttl)
  end
  a = a + 4
end
for i = 2, 4 do
  redis.call('EXPIRE', KEYS[i], ttl)
end
redis.call('SET', KEYS[1], '1', 'EX', ttl)
return 1
