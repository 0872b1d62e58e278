-- The last steps of an office's rebuild (store/redis/mod.rs `load_office`). The seat maps and
-- the marks were written beforehand to staging keys, in short pipelined commands, so that
-- no single command holds Redis while a large office loads.
-- ARGV[1] 'carry': copy the claims made since the snapshot was read (pending claims due
--   from ARGV[2] ms, skipping the first ARGV[3], at most ARGV[4] of them) that still hold
--   their seat into the staging keys, with their marks (resident, idempotency key);
--   answers {claims looked at, last score, how many of them at that score}. Called in
--   short rounds until it catches up.
-- ARGV[1] 'swap': carry the rest, then rename the staging keys over the live ones
--   atomically and set the epoch (ARGV[5]).
-- KEYS: 1 epoch, 2 marks, 3 their staging key, 4 pending claims, then per day
--       seat map: the map and its staging key
-- ARGV: 1 mode, 2 due from (ms), 3 skip, 4 at most (0: all), 5 epoch value, 6 marks
--       staged, 7 staging TTL (s), then per seat map: TTL (s) and fields staged
-- A staging key holding fewer fields than were written (it outlived its TTL, perhaps to be
-- recreated by later writes) fails the swap, so a rebuild that stalled for minutes never
-- swaps in a partial map: it is retried instead.
local FIRST_MAP = 5
local map_of = {}
for i = FIRST_MAP, #KEYS, 2 do
  map_of[string.match(KEYS[i], '}:seats:(.+)$')] = i
end

-- Erasing a claim made after the snapshot would leave its seat to be refused by the
-- ledger's seat key on the next claim of it: one correction per seat.
local function carry(from, skip, limit)
  local recent
  if limit > 0 then
    recent = redis.call('ZRANGEBYSCORE', KEYS[4], from, '+inf', 'WITHSCORES', 'LIMIT', skip, limit)
  else
    recent = redis.call('ZRANGEBYSCORE', KEYS[4], from, '+inf', 'WITHSCORES')
  end
  local last, at_last = from, 0
  for n = 1, #recent, 2 do
    local member = recent[n]
    if recent[n + 1] == last then
      at_last = at_last + 1
    else
      last, at_last = recent[n + 1], 1
    end
    local claim, procedure, day, time, seat, resident, idem =
      string.match(member, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
    local i = claim and map_of[procedure .. ':' .. day]
    local field = i and (time .. ':' .. seat)
    if i and redis.call('HGET', KEYS[i], field) == claim then
      redis.call('HSETNX', KEYS[i + 1], field, claim)
      redis.call('EXPIRE', KEYS[i + 1], ARGV[7])
      local mark_fields = {}
      if resident ~= '-' then
        mark_fields[#mark_fields + 1] = procedure .. ':' .. resident
      end
      if idem ~= '-' then
        mark_fields[#mark_fields + 1] = 'idem:' .. idem
      end
      for _, mark_field in ipairs(mark_fields) do
        local mark = redis.call('HGET', KEYS[2], mark_field)
        if mark and string.sub(mark, 1, #claim + 1) == claim .. '|' then
          redis.call('HSETNX', KEYS[3], mark_field, mark)
          redis.call('EXPIRE', KEYS[3], ARGV[7])
        end
      end
    end
  end
  return #recent / 2, last, at_last
end

if ARGV[1] == 'carry' then
  local looked, last, at_last = carry(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
  return {looked, tostring(last), at_last}
end

-- (staging key, fields written): the marks', then each seat map's.
local staged = {{KEYS[3], ARGV[6]}}
for i = FIRST_MAP, #KEYS, 2 do
  staged[#staged + 1] = {KEYS[i + 1], ARGV[i + 4]}
end
for _, s in ipairs(staged) do
  if redis.call('HLEN', s[1]) < tonumber(s[2]) then
    return redis.error_reply('STAGING_LOST a staging key holds fewer fields than were written')
  end
end
carry(ARGV[2], 0, 0)
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
  -- RENAME keeps the staging key's TTL; marks carry their own "until".
  redis.call('PERSIST', KEYS[2])
end
for i = FIRST_MAP, #KEYS, 2 do
  if swap(KEYS[i], KEYS[i + 1]) then
    redis.call('EXPIRE', KEYS[i], ARGV[i + 3])
  end
end
redis.call('SET', KEYS[1], ARGV[5])
return 1
