-- One line's queue in constant time: counts per class and a ticket's rank in its class.
-- (Counter states and service times change a few times a minute: the service reads them
-- with the office's view, not with every ticket.)
-- KEYS: 1 loaded, 2 reserved, 3 priority, 4 normal queues
-- ARGV: 1 ticket id or '', 2 its class queue index (2, 3 or 4) or ''
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local rank = -1
if ARGV[1] ~= '' then
  local r = redis.call('ZRANK', KEYS[tonumber(ARGV[2])], ARGV[1])
  if r then
    rank = r
  end
end
return {'OK', redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), rank}
