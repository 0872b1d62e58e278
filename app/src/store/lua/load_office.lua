-- The last steps of an office's rebuild (store/redis.rs `load_office`). The seat maps and
-- resident marks were written beforehand to staging keys, in short pipelined commands,
-- so that no single command holds Redis while a large office loads.
-- ARGV[1] 'carry': copy the claims made since the snapshot was read (pending claims due
--   from ARGV[2] ms, at most ARGV[3] of them) that still hold their seat into the staging
--   keys, with their resident marks; answers {claims looked at, last score}. Called in
--   short rounds until it catches up.
-- ARGV[1] 'swap': carry the rest, then rename the staging keys over the live ones
--   atomically and set the epoch (ARGV[4]).
-- KEYS: 1 epoch, 2 resident marks, 3 their staging key, 4 pending claims, then per day
--       seat map: the map and its staging key
-- ARGV: 1 mode, 2 due from (ms), 3 at most (0: all), 4 epoch value, 5 '1' if resident
--       marks were staged, 6 staging TTL (s), then per seat map: TTL (s) and '1' if
--       entries were staged
-- A staging key that was written but is gone (it outlived its TTL) fails the swap, so a
-- slow rebuild never empties a map: the rebuild is then retried.
local FIRST_MAP = 5
local map_of = {}
for i = FIRST_MAP, #KEYS, 2 do
  map_of[string.match(KEYS[i], '}:seats:(.+)$')] = i
end

-- Erasing a claim made after the snapshot would leave its seat to be refused by the
-- ledger's seat key on the next claim of it: one correction per seat.
local function carry(from, limit)
  local recent
  if limit > 0 then
    recent = redis.call('ZRANGEBYSCORE', KEYS[4], from, '+inf', 'WITHSCORES', 'LIMIT', 0, limit)
  else
    recent = redis.call('ZRANGEBYSCORE', KEYS[4], from, '+inf', 'WITHSCORES')
  end
  local last = from
  for n = 1, #recent, 2 do
    local member = recent[n]
    last = recent[n + 1]
    local claim, procedure, day, time, seat, resident =
      string.match(member, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)|')
    local i = claim and map_of[procedure .. ':' .. day]
    local field = i and (time .. ':' .. seat)
    if i and redis.call('HGET', KEYS[i], field) == claim then
      redis.call('HSETNX', KEYS[i + 1], field, claim)
      redis.call('EXPIRE', KEYS[i + 1], ARGV[6])
      if resident ~= '-' then
        local mark_field = procedure .. ':' .. resident
        local mark = redis.call('HGET', KEYS[2], mark_field)
        if mark and string.sub(mark, 1, #claim + 1) == claim .. '|' then
          redis.call('HSETNX', KEYS[3], mark_field, mark)
          redis.call('EXPIRE', KEYS[3], ARGV[6])
        end
      end
    end
  end
  return #recent / 2, last
end

if ARGV[1] == 'carry' then
  local looked, last = carry(ARGV[2], tonumber(ARGV[3]))
  return {looked, tostring(last)}
end

local function staged_present(staged, written)
  return written ~= '1' or redis.call('EXISTS', staged) == 1
end
if not staged_present(KEYS[3], ARGV[5]) then
  return redis.error_reply('STAGING_LOST')
end
for i = FIRST_MAP, #KEYS, 2 do
  if not staged_present(KEYS[i + 1], ARGV[i + 3]) then
    return redis.error_reply('STAGING_LOST')
  end
end
carry(ARGV[2], 0)
-- UNLINK frees a large old map in the background instead of inside the script.
local function swap(live, staged)
  redis.call('UNLINK', live)
  if redis.call('EXISTS', staged) == 1 then
    redis.call('RENAME', staged, live)
    return true
  end
  return false
end
if swap(KEYS[2], KEYS[3]) then
  -- RENAME keeps the staging key's TTL; resident marks carry their own "until".
  redis.call('PERSIST', KEYS[2])
end
for i = FIRST_MAP, #KEYS, 2 do
  if swap(KEYS[i], KEYS[i + 1]) then
    redis.call('EXPIRE', KEYS[i], ARGV[i + 2])
  end
end
redis.call('SET', KEYS[1], ARGV[4])
return 1
