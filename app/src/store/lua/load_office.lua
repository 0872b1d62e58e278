-- Swap an office's rebuilt hot state in, atomically. The seat maps and resident marks
-- were written beforehand to staging keys, in short pipelined commands (store/redis.rs
-- `load_office`), so that no single command holds Redis while a large office loads;
-- this script only renames them over the live keys and sets the epoch.
-- KEYS: 1 epoch, 2 resident marks, 3 their staging key, then per day seat map: the map
--       and its staging key
-- ARGV: 1 epoch value, 2 '1' if resident marks were staged, then per seat map: TTL (s)
--       and '1' if entries were staged
-- A staging key that was written but is gone (it outlived its TTL) fails the whole swap,
-- so a slow rebuild never empties a map: the rebuild is then retried.
local function staged_present(staged, written)
  return written ~= '1' or redis.call('EXISTS', staged) == 1
end
if not staged_present(KEYS[3], ARGV[2]) then
  return redis.error_reply('STAGING_LOST')
end
for i = 4, #KEYS, 2 do
  if not staged_present(KEYS[i + 1], ARGV[i]) then
    return redis.error_reply('STAGING_LOST')
  end
end
-- UNLINK frees a large old map in the background instead of inside the script.
local function swap(live, staged, written)
  redis.call('UNLINK', live)
  if written == '1' then
    redis.call('RENAME', staged, live)
    return true
  end
  return false
end
if swap(KEYS[2], KEYS[3], ARGV[2]) then
  -- RENAME keeps the staging key's TTL; resident marks carry their own "until".
  redis.call('PERSIST', KEYS[2])
end
for i = 4, #KEYS, 2 do
  if swap(KEYS[i], KEYS[i + 1], ARGV[i]) then
    redis.call('EXPIRE', KEYS[i], ARGV[i - 1])
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
