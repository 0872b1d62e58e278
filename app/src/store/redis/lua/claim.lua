-- Claim a seat of a slot, atomically with the rule checks (see docs/ARCHITECTURE.md).
-- KEYS: 1 epoch, 2 day seat map, 3 pending claims, 4 the office's marks (idempotency keys
--       and residents' bookings)
-- ARGV: 1 claim id, 2 slot HHMM, 3 capacity, 4 pending member head, 5 pending member tail,
--       6 deadline (ms), 7 fingerprint hex or '', 8 idempotency mark field or '',
--       9 resident mark field or '', 10 resident mark until (unix s), 11 now (unix s),
--       12 seat map TTL (s), 13 the seat to try first when the slot has no hint (the
--       scan wraps around), 14 idempotency mark until (unix s)
-- A mark is "holder|until" (a resident's) or "holder|fingerprint|until" (a key's); one
-- whose "until" has passed counts as absent (a rebuild leaves it out).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'REBUILD'}
end
local claim = ARGV[1]
local now = tonumber(ARGV[11])
local idem_field, resident_field = ARGV[8], ARGV[9]
-- A claim without a key (or a resident) passes '' as that field; no mark is ever
-- written under '', so it reads as absent.
local marks = redis.call('HMGET', KEYS[4], idem_field, resident_field)
if marks[1] then
  local owner, fingerprint, valid_until = string.match(marks[1], '^([^|]+)|([^|]*)|(%d+)$')
  if owner and owner ~= claim and tonumber(valid_until) > now then
    return {'REPLAY', owner, fingerprint}
  end
end
if marks[2] then
  local owner, valid_until = string.match(marks[2], '^([^|]+)|(%d+)$')
  if owner and owner ~= claim and tonumber(valid_until) > now then
    return {'RESIDENT'}
  end
end
local capacity = tonumber(ARGV[3])
-- Two hints per slot beside its seats: "HHMM:full" (the capacity at which every seat was
-- found taken; release.lua removes it with any seat of the slot) and "HHMM:next" (where
-- the next claim starts). A refusal then costs one lookup instead of a probe of every
-- seat, and a claim finds a free seat at the first try. Without hints the scan starts at
-- ARGV[13] and walks every seat. "full" can be trusted because release.lua is the only
-- script that frees a seat (a rebuild rewrites the map without hints); the ledger's seat
-- key, not the hints, is what stops an overbooking.
local full_field, next_field = ARGV[2] .. ':full', ARGV[2] .. ':next'
local hints = redis.call('HMGET', KEYS[2], full_field, next_field)
if hints[1] == ARGV[3] then
  return {'FULL'}
end
local first = tonumber(hints[2]) or tonumber(ARGV[13])
local seat_prefix = ARGV[2] .. ':'
local function take(seat)
  redis.call('HSET', KEYS[2], next_field, (seat + 1) % capacity)
  -- The map's TTL is the same for every claim of its day; it is set where the map is
  -- created (here, by the slot's first claim, which has no hint; or by a rebuild).
  if not hints[2] then
    redis.call('EXPIRE', KEYS[2], ARGV[12])
  end
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4] .. seat .. ARGV[5])
  -- Both marks in one HSET of one hash: a key of its own per Idempotency-Key (with its
  -- own expiry) grew Redis's keyspace and expiry table by one entry per booking, and
  -- took a command more to read and one to write (docs/PERFORMANCE.md, "Two
  -- cuts in the claim script").
  local writes = {}
  if idem_field ~= '' then
    writes[#writes + 1] = idem_field
    writes[#writes + 1] = claim .. '|' .. ARGV[7] .. '|' .. ARGV[14]
  end
  if resident_field ~= '' then
    writes[#writes + 1] = resident_field
    writes[#writes + 1] = claim .. '|' .. ARGV[10]
  end
  if #writes > 0 then
    redis.call('HSET', KEYS[4], unpack(writes))
  end
  return {'OK', seat}
end
if redis.call('HSETNX', KEYS[2], seat_prefix .. first, claim) == 1 then
  return take(first)
end
-- The first seat was taken (after a release or a rebuild, or the slot is full): read the
-- other seats' holders in a few HMGETs and take the first free one in scan order, rather
-- than one HSETNX per seat (every slot fills once, and that walk made as many HSETNX
-- calls as all of the slot's claims together). The script runs atomically: a seat read
-- free is free.
local CHUNK = 256
for from = 1, capacity - 1, CHUNK do
  local fields = {}
  for i = from, math.min(from + CHUNK - 1, capacity - 1) do
    fields[#fields + 1] = seat_prefix .. ((first + i) % capacity)
  end
  local holders = redis.call('HMGET', KEYS[2], unpack(fields))
  for j = 1, #fields do
    if not holders[j] then
      redis.call('HSET', KEYS[2], fields[j], claim)
      return take((first + from + j - 1) % capacity)
    end
  end
end
redis.call('HSET', KEYS[2], full_field, ARGV[3])
return {'FULL'}
