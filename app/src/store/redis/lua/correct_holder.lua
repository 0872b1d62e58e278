-- The ledger says another reservation holds this seat: record it, if the claim still does.
-- KEYS: 1 day seat map. ARGV: 1 seat field, 2 claimed holder, 3 actual holder
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
