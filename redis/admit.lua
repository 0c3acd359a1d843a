-- admit: takes one call's cost from every shared limit of a gate, all of
-- them or none, on the server's clock. Times are microseconds.
--
-- KEYS[1] pause     string: end of the shared pause
-- KEYS[2] leases    zset: lease member -> expiry
-- KEYS[3] window    zset: start member -> start time
-- KEYS[4] procs     zset: process -> last seen
-- KEYS[5] learned   hash: the pace learned from the API's headers, per
--                   kind (r, t, i, o: requests, tokens, input, output
--                   tokens) its interval per unit and tau
-- KEYS[6..9] the learned paces' timelines
-- KEYS[10] pending  zset: window member of a call not yet sent -> until
--                   when it counts in every window (see below)
-- KEYS[11..] one GCRA timeline (string: theoretical arrival time) per pacer
--
-- ARGV[1] admission id (unique)       ARGV[2] process id
-- ARGV[3] ahead: how far ahead a slot may be reserved
-- ARGV[4] lease ttl                    ARGV[5] concurrency limit (0: none)
-- ARGV[6] concurrency weight           ARGV[7] window count N (0: none)
-- ARGV[8] window length                ARGV[9] window weight
-- ARGV[10] number of pacers, then per pacer: cost, tau (burst tolerance),
--          capacity (largest cost it ever admits); then the call's units
--          of each learned kind (requests, tokens, input, output tokens);
--          then the pending horizon (0: the call starts when admitted);
--          then 1 when the process knows it was counted in KEYS[4] (it
--          had an answer less than a minute ago), else 0
--
-- Returns {status, value, processes, leases, start, tat1, tat2, ...,
-- paced}:
--   status 1: granted, value = delay until the start (0: now), start =
--             the start on the server's clock, tats = new timelines (for
--             a give-back), paced = the interval in microseconds of a
--             request pace learned from 429s alone, '0' for none
--   status 0: refused, value = wait until it could be admitted
--   status 2: refused, a concurrency slot is needed (wait for a release)
--   status 3: refused, the gate is paused for value more (a shared pause)
--   status 4: refused, the process was counted here and is not: the
--             server lost the store's state (a restart, a flush), and
--             with it the leases of calls in flight; the process puts
--             its own back (renew.lua) before it asks again
--   status -1: the cost exceeds limit number value (-1: window, i:
--             pacer i) and can never be admitted
--   leases: the concurrency leases held after the answer, by every
--           process (-1: not counted), what Local mode shares from
--           during an outage (config.local)
-- A call whose request leaves later than its admission (a Transport's,
-- on a connection still to be dialled: sluice.SentTicket) is taken
-- pending: its window members go to KEYS[10], where they count in every
-- window, until sent.lua dates them in the window at the time its request
-- left (or finish.lua at the call's end). A pending member is good for
-- the horizon, which its process renews (renew.lua) while the call waits;
-- one that outlives it (its process died) counts from then on as started
-- then, the latest its request can have left.
-- Numbers go to Redis as whole decimals: Lua would print them with 14
-- digits, and microseconds since 1970 have 16.
local function d(x) return string.format('%.0f', x) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local id, proc = ARGV[1], ARGV[2]
local ahead, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local climit, cn = tonumber(ARGV[5]), tonumber(ARGV[6])
local wlimit, wlen, wn = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local npacers = tonumber(ARGV[10])

local ubase = 10 + 3 * npacers
local known = tonumber(ARGV[ubase + 6] or '0')
local counted = redis.call('ZSCORE', KEYS[4], proc)
redis.call('ZADD', KEYS[4], d(now), proc)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', d(now - 60000000))
redis.call('PEXPIRE', KEYS[4], 120000)
local procs = redis.call('ZCARD', KEYS[4])
if known == 1 and not counted then return {4, 0, procs, -1} end

-- Refuse at once what can never fit.
if wlimit > 0 and wn > wlimit then return {-1, -1, procs, -1} end
for i = 1, npacers do
  local cost, cap = tonumber(ARGV[10 + 3*i - 2]), tonumber(ARGV[10 + 3*i])
  if cap > 0 and cost > cap then return {-1, i, procs, -1} end
end

-- Concurrency: reap the leases of holders that died, then count (also
-- during a pause: the count is what Local mode shares from).
local held = -1
if climit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', d(now))
  held = redis.call('ZCARD', KEYS[2])
end

local pause = tonumber(redis.call('GET', KEYS[1]) or '0')
if pause > now then return {3, pause - now, procs, held} end

-- A weight above the limit runs alone, when no lease is held, as a
-- Semaphore in memory runs it (it waits for every process's calls to
-- end, and is not first in any line: with others starting calls
-- without pause it may wait long).
if climit > 0 and cn > 0 then
  if held + math.min(cn, climit) > climit then return {2, 0, procs, held} end
end

-- Pacers (GCRA): the start each allows.
local delay = 0
local tats = {}
for i = 1, npacers do
  local cost, tau = tonumber(ARGV[10 + 3*i - 2]), tonumber(ARGV[10 + 3*i - 1])
  local tat = tonumber(redis.call('GET', KEYS[10 + i]) or '0')
  tats[i] = tat
  local start = tat + math.min(cost, tau) - tau
  if start - now > delay then delay = start - now end
end

-- Learned paces, shared by every process that learned them.
local learned = redis.call('HMGET', KEYS[5], 'r:iv', 'r:tau', 't:iv', 't:tau', 'i:iv', 'i:tau', 'o:iv', 'o:tau', 'r:src')
local lcost, ltau, ltat = {}, {}, {}
for k = 1, 4 do
  local iv = tonumber(learned[2*k - 1] or '')
  local units = tonumber(ARGV[ubase + k] or '0')
  if iv and units > 0 then
    lcost[k], ltau[k] = math.ceil(units * iv), tonumber(learned[2*k])
    ltat[k] = tonumber(redis.call('GET', KEYS[5 + k]) or '0')
    local start = ltat[k] + math.min(lcost[k], ltau[k]) - ltau[k]
    if start - now > delay then delay = start - now end
  end
end

-- Window: at the start the pacers allow, wn more must fit in the window
-- ending there; reservations ahead count, and pending calls count in
-- every window.
local horizon = tonumber(ARGV[ubase + 5] or '0')
if wlimit > 0 and wn > 0 then
  local s = now + delay
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', d(now - wlen))
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[10], '-inf', d(now), 'WITHSCORES')
  if #lapsed > 0 then
    for k = 1, #lapsed, 2 do
      redis.call('ZADD', KEYS[3], lapsed[k + 1], lapsed[k])
    end
    redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', d(now))
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', d(now - wlen))
    if redis.call('PTTL', KEYS[3]) < wlen / 1000 + 1000 then
      redis.call('PEXPIRE', KEYS[3], d(math.floor(wlen / 1000) + 1000))
    end
  end
  -- Counted, not read: a window of thousands a minute holds thousands
  -- of starts, and reading them all cost each admission that much.
  local from = '(' .. d(s - wlen)
  local pend = redis.call('ZCARD', KEYS[10])
  local cnt = redis.call('ZCOUNT', KEYS[3], from, '+inf')
  local must = cnt + pend + wn - wlimit
  if must > 0 then
    -- The must-th to leave makes room. Those started by now leave
    -- first; then the pending, dated now at the earliest, so gone a
    -- window from now at the earliest (a lower bound: the caller asks
    -- again then, not at the horizon); then the reservations ahead.
    local past = redis.call('ZCOUNT', KEYS[3], from, d(now))
    local leaves = now + wlen
    if must <= past or must > past + pend then
      local k = must - 1
      if must > past then k = must - pend - 1 end
      local at = redis.call('ZRANGEBYSCORE', KEYS[3], from, '+inf', 'WITHSCORES', 'LIMIT', k, 1)
      leaves = tonumber(at[2]) + wlen
    end
    if leaves - now > delay then delay = leaves - now end
  end
end

if delay > ahead then return {0, delay, procs, held} end

-- Granted: take from every limit.
local start = now + delay
if climit > 0 and cn > 0 then held = held + cn end
local out = {1, delay, procs, held, start}
for i = 1, npacers do
  local cost, tau = tonumber(ARGV[10 + 3*i - 2]), tonumber(ARGV[10 + 3*i - 1])
  local tat = math.max(tats[i], start) + cost
  redis.call('SET', KEYS[10 + i], d(tat), 'PX', d(math.floor((tat - now + tau) / 1000) + 1000))
  out[5 + i] = tat
end
-- The request pace learned from 429s alone, '0' for none: every
-- process follows it as its own, and climbs it back (learn.lua).
if learned[1] and learned[9] == '429' then
  out[6 + npacers] = learned[1]
else
  out[6 + npacers] = '0'
end
for k = 1, 4 do
  if lcost[k] then
    local tat = math.max(ltat[k], start) + lcost[k]
    redis.call('SET', KEYS[5 + k], d(tat), 'PX', d(math.floor((tat - now + ltau[k]) / 1000) + 1000))
  end
end
if wlimit > 0 and wn > 0 and horizon > 0 then
  -- Kept until a member lapsed and then left the window (see above).
  for j = 1, wn do redis.call('ZADD', KEYS[10], d(now + horizon), id .. ':' .. j) end
  local keep = math.floor((horizon + wlen) / 1000) + 1000
  if redis.call('PTTL', KEYS[10]) < keep then redis.call('PEXPIRE', KEYS[10], d(keep)) end
elseif wlimit > 0 and wn > 0 then
  for j = 1, wn do redis.call('ZADD', KEYS[3], d(start), id .. ':' .. j) end
  redis.call('PEXPIRE', KEYS[3], d(math.floor((wlen + delay) / 1000) + 1000))
end
if climit > 0 and cn > 0 then
  for j = 1, cn do redis.call('ZADD', KEYS[2], d(now + ttl), id .. ':' .. j) end
  redis.call('PEXPIRE', KEYS[2], d(math.floor(ttl / 1000) + 1000))
end
return out
