-- sent: dates calls taken pending (admit.lua) in their window at the
-- time their requests left: each counts from then on, no longer in every
-- window. That time is the server's now less how long ago the call was
-- sent, measured by the sender up to when it sent this script (sent.go):
-- never before the request left. A member no longer pending (given back,
-- dated at its end, or lapsed) is left alone. One script for the calls
-- of several gates of a store, sent off the callers' path.
--
-- KEYS in pairs, one per gate: pending, window
-- ARGV per gate, in the same order: window length (microseconds), number
--   of calls, then per call: admission id, window weight, how long ago it
--   was sent (microseconds)
-- Returns the number of members dated.
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local a, dated = 1, 0
for g = 1, #KEYS / 2 do
  local pending, window = KEYS[2*g - 1], KEYS[2*g]
  local wlen, calls = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local here = 0
  for c = 1, calls do
    local id, wn, ago = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    a = a + 3
    local at = d(now - math.max(ago, 0))
    for j = 1, wn do
      if redis.call('ZREM', pending, id .. ':' .. j) == 1 then
        redis.call('ZADD', window, at, id .. ':' .. j)
        here = here + 1
      end
    end
  end
  if here > 0 and redis.call('PTTL', window) < wlen / 1000 + 1000 then
    redis.call('PEXPIRE', window, d(math.floor(wlen / 1000) + 1000))
  end
  dated = dated + here
end
return dated
