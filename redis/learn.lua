-- learn: keeps the paces a gate learned from the API's headers, for
-- every process sharing the gate. KEYS[1] learned. ARGV: per kind (r, t,
-- i, o) its interval per unit and tau in microseconds, 0 for none learned;
-- ARGV[9] 1 when the request pace was learned from 429s alone (r:src),
-- which admit.lua tells every process so that each climbs it back.
local kinds = {'r', 't', 'i', 'o'}
for k = 1, 4 do
  local iv, tau = ARGV[2*k - 1], ARGV[2*k]
  if tonumber(iv) > 0 then
    redis.call('HSET', KEYS[1], kinds[k] .. ':iv', iv, kinds[k] .. ':tau', tau)
  else
    redis.call('HDEL', KEYS[1], kinds[k] .. ':iv', kinds[k] .. ':tau')
  end
end
if ARGV[9] == '1' and tonumber(ARGV[1]) > 0 then
  redis.call('HSET', KEYS[1], 'r:src', '429')
else
  redis.call('HDEL', KEYS[1], 'r:src')
end
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
