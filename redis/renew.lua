-- renew: pushes back the expiry of leases still held (a holder that
-- died stops renewing, and acquire reaps its leases once they expire).
-- KEYS[1] leases   KEYS[2] epoch: a value that changes when Redis loses
-- its data (made here when missing)
-- ARGV[1] ttl (microseconds), ARGV[2] the epoch the holder last saw ('':
-- none yet), ARGV[3] a new epoch to make if there is none,
-- ARGV[4..] lease members
-- Returns {leases kept, the epoch}.
-- A lease gone while its holder renews is either released since the
-- holder listed it, and must stay so, or lost with the rest of Redis's
-- data (restarted empty): its call is still in flight, and without it
-- other processes are admitted beyond the limit for as long as it runs.
-- The epoch tells them apart: when it changed, the leases are put back.
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[1])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
local lost = ARGV[2] ~= '' and ARGV[2] ~= epoch
local kept = 0
for i = 4, #ARGV do
  if lost then
    redis.call('ZADD', KEYS[1], d(now + ttl), ARGV[i])
    kept = kept + 1
  else
    kept = kept + redis.call('ZADD', KEYS[1], 'XX', 'CH', d(now + ttl), ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], d(math.floor(ttl / 1000) + 1000))
return {kept, epoch}
