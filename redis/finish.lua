-- finish: ends an admitted call, or gives back one that never started.
-- Idempotent: a lease or window entry already gone is not removed twice,
-- and a pacer is given back only what nobody has queued behind.
--
-- KEYS[1] leases   KEYS[2] window   KEYS[3] release channel
-- KEYS[4] pending (admit.lua)   KEYS[5..] one GCRA timeline per pacer
-- ARGV[1] admission id   ARGV[2] concurrency weight
-- ARGV[3] window weight to remove, pending or not (0 for a finished call)
-- ARGV[4] window weight to date now if still pending (a call whose
--   request was never said to have left: it left by its end at the
--   latest)   ARGV[5] window length
-- ARGV[6] number of pacers, then per pacer: mode, amount, tat
--   mode 0: nothing; mode 1: give back amount (a cancelled reservation
--   that ended the timeline at tat); mode 2: charge amount more (used
--   beyond the estimate, the timeline ending at most tat past now, so
--   that an absurd usage stops the budget for minutes, not years); mode 3:
--   refund amount (estimated beyond use)
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local id = ARGV[1]
local cn, wn = tonumber(ARGV[2]), tonumber(ARGV[3])
local wdate, wlen = tonumber(ARGV[4]), tonumber(ARGV[5])
local released = 0
for j = 1, cn do
  released = released + redis.call('ZREM', KEYS[1], id .. ':' .. j)
end
for j = 1, wn do
  redis.call('ZREM', KEYS[2], id .. ':' .. j)
  redis.call('ZREM', KEYS[4], id .. ':' .. j)
end
local dated = 0
for j = 1, wdate do
  if redis.call('ZREM', KEYS[4], id .. ':' .. j) == 1 then
    redis.call('ZADD', KEYS[2], d(now), id .. ':' .. j)
    dated = dated + 1
  end
end
if dated > 0 and redis.call('PTTL', KEYS[2]) < wlen / 1000 + 1000 then
  redis.call('PEXPIRE', KEYS[2], d(math.floor(wlen / 1000) + 1000))
end
local n = tonumber(ARGV[6])
for i = 1, n do
  local mode, amount, ours = tonumber(ARGV[6 + 3*i - 2]), tonumber(ARGV[6 + 3*i - 1]), tonumber(ARGV[6 + 3*i])
  local key = KEYS[4 + i]
  local tat = tonumber(redis.call('GET', key) or '0')
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then ttl = 1000 end
  if mode == 1 then
    local back = amount - (tat - ours)
    if back > 0 then
      redis.call('SET', key, d(tat - math.min(back, amount)), 'PX', d(ttl))
    end
  elseif mode == 2 then
    local next = math.max(tat, now) + amount
    if ours > 0 then next = math.min(next, math.max(tat, now + ours)) end
    redis.call('SET', key, d(next), 'PX', d(math.max(ttl, math.floor((next - now) / 1000) + 1000)))
  elseif mode == 3 and tat > now then
    redis.call('SET', key, d(math.max(tat - amount, now)), 'PX', d(ttl))
  end
end
if released > 0 then redis.call('PUBLISH', KEYS[3], released) end
return released
