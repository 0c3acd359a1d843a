-- learn: keeps the paces a gate learned, for every process sharing the
-- gate. KEYS[1] learned. ARGV: per kind (r, t, i, o) its interval per
-- unit and tau in microseconds, 0 for none learned; ARGV[9] 1 when the
-- request pace was learned from 429s alone (r:src), which admit.lua
-- tells every process so that each follows it and climbs it back;
-- ARGV[10] the interval of the pace from 429s the process last knew here
-- ('0': none). Every process climbs such a pace: a climb (a shorter
-- interval than the one kept) from a pace another process has cut since
-- (the one kept is no longer ARGV[10]) leaves the cut. Returns 1, or 0
-- when the request pace was left so.
local kinds = {'r', 't', 'i', 'o'}
local keep = false
if ARGV[9] == '1' then
  local kept = redis.call('HMGET', KEYS[1], 'r:iv', 'r:src')
  local iv, was = tonumber(kept[1] or ''), tonumber(ARGV[10])
  if iv and kept[2] == '429' and tonumber(ARGV[1]) < iv and math.abs(iv - was) > iv * 1e-4 then
    keep = true
  end
end
for k = 1, 4 do
  local iv, tau = ARGV[2*k - 1], ARGV[2*k]
  if k == 1 and keep then
    -- the cut stands
  elseif tonumber(iv) > 0 then
    redis.call('HSET', KEYS[1], kinds[k] .. ':iv', iv, kinds[k] .. ':tau', tau)
  else
    redis.call('HDEL', KEYS[1], kinds[k] .. ':iv', kinds[k] .. ':tau')
  end
end
if keep then
  -- r:src stays 429
elseif ARGV[9] == '1' and tonumber(ARGV[1]) > 0 then
  redis.call('HSET', KEYS[1], 'r:src', '429')
else
  redis.call('HDEL', KEYS[1], 'r:src')
end
redis.call('PEXPIRE', KEYS[1], 3600000)
if keep then return 0 end
return 1
