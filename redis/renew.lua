-- renew: pushes back the expiry of the leases a holder still holds (a
-- holder that died stops renewing, and admit reaps its leases once they
-- expire), and puts back those that are gone; and pushes back the horizon
-- of its calls still pending in a window (admit.lua), never putting one
-- back: one gone was dated (sent.lua, finish.lua) or given back.
-- KEYS[1] leases   KEYS[2] pending   KEYS[3] processes (admit.lua)
-- ARGV[1] ttl (microseconds), ARGV[2] the window's length, ARGV[3] the
-- process id, ARGV[4] 1 when the process knows it was counted in KEYS[3]
-- (admit.lua), ARGV[5] number of lease members, then the lease members,
-- then the pending members
-- Returns {leases put back, 1 when the process was counted and is not
-- (the server lost the store's state: admit.lua's status 4), the leases
-- held now by every process}.
--
-- A lease can be gone while its call is still in flight: Redis restarted
-- empty, or stalled (a VM pause, SIGSTOP) for longer than the ttl and
-- reaped it, or dropped the whole key on its expiry, at its first
-- admission afterwards. Without it, other processes are admitted beyond
-- the limit for as long as the call runs; the holder knows what it has
-- not released, so it puts it back.
-- A lease released while this renewal was on its way (the holder listed
-- it, then ended the call and sent finish, which ran first) is put back
-- too: nobody renews it after that, and it expires within one ttl.
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl, wlen, proc, known, leases = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
-- A holder that only renews is still one of the processes sharing.
local lost = 0
if known == 1 and not redis.call('ZSCORE', KEYS[3], proc) then lost = 1 end
redis.call('ZADD', KEYS[3], d(now), proc)
redis.call('PEXPIRE', KEYS[3], 120000)
local back = 0
for i = 6, 5 + leases do
  back = back + redis.call('ZADD', KEYS[1], d(now + ttl), ARGV[i])
end
if leases > 0 then
  redis.call('PEXPIRE', KEYS[1], d(math.floor(ttl / 1000) + 1000))
end
local renewed = 0
for i = 6 + leases, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[2], 'XX', 'CH', d(now + ttl), ARGV[i])
end
-- Kept until a member lapsed and then left the window (admit.lua).
local keep = math.floor((ttl + wlen) / 1000) + 1000
if renewed > 0 and redis.call('PTTL', KEYS[2]) < keep then
  redis.call('PEXPIRE', KEYS[2], d(keep))
end
return {back, lost, redis.call('ZCARD', KEYS[1])}
