-- learn: keeps the paces a gate learned from the API's headers, for
-- every process sharing the gate. KEYS[1] learned. ARGV: per kind (r, t,
-- i, o) its interval per unit and tau in microseconds, 0 for none learned.
local kinds = {'r', 't', 'i', 'o'}
for k = 1, 4 do
  local iv, tau = ARGV[2*k - 1], ARGV[2*k]
  if tonumber(iv) > 0 then
    redis.call('HSET', KEYS[1], kinds[k] .. ':iv', iv, kinds[k] .. ':tau', tau)
  else
    redis.call('HDEL', KEYS[1], kinds[k] .. ':iv', kinds[k] .. ':tau')
  end
end
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
