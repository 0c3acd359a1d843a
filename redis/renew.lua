-- renew: pushes back the expiry of leases still held (a holder that
-- died stops renewing, and acquire reaps its leases once they expire).
-- KEYS[1] leases   ARGV[1] ttl (microseconds), ARGV[2..] lease members
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[1])
local kept = 0
for i = 2, #ARGV do
  kept = kept + redis.call('ZADD', KEYS[1], 'XX', 'CH', d(now + ttl), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], d(math.floor(ttl / 1000) + 1000))
return kept
