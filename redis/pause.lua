-- pause: extends the shared pause to now + ARGV[1] microseconds on the
-- server's clock; an earlier end changes nothing. KEYS[1] pause.
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > cur then
  redis.call('SET', KEYS[1], d(until_), 'PX', d(math.floor(tonumber(ARGV[1]) / 1000) + 1))
  return 1
end
return 0
