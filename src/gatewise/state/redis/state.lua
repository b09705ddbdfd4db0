-- gatewise's shared state: every operation of the store is one call of this script
-- (EVALSHA), so each is atomic and costs one round trip.  It reproduces, on Redis, the
-- semantics of the in-process store (gatewise/router/store.py and
-- gatewise/state/counters.py).
--
-- Keys (P is the prefix, gatewise: by default; W a minute window, now // 60):
--
--     P d:<id>:w:<W>      hash r, t: a deployment's requests and tokens in window W
--     P d:<id>:l          hash f:<incarnation> -> calls in flight
--     P d:<id>:cd         its cooldown's end            P d:<id>:f   zset of failure times
--     P d:<id>:lat, :ttft lists of recent latencies and times to first token
--     P s:<scope>:w:<W>   hash r, t: a key's (team's, user's, end user's) requests and tokens
--     P s:<scope>:l       hash p:<incarnation> -> requests in flight, r:<incarnation> ->
--                         budget reserved by them
--     P s:<scope>:b:<end> the spend of the budget period ending at <end> (0: no duration)
--     P procs             zset incarnation -> last heartbeat
--
-- ARGV: op, prefix, now (the agreed clock, epoch seconds), incarnation, then the op's own.
-- Keys are built here from the prefix (standalone Redis / Valkey, or a primary behind
-- Sentinel; Redis Cluster would need every key under one hash tag).

local op, P, now, inc = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

local WINDOW = 60            -- seconds of a usage window (rpm / tpm) and of failure counting
local RECENT = 10            -- latencies kept per deployment
local PROCESS_TTL = 30       -- seconds without a heartbeat after which a process is dead
local DAY_MS = 86400000      -- idle expiry of in-flight / latency keys
local BUDGET_GRACE = 3600    -- seconds a budget period's spend outlives the period
local EPSILON = 1e-9         -- budget sums are floats

local window = math.floor(now / WINDOW)
-- a window's counts live until one window after it ends
local window_ms = math.ceil(((window + 2) * WINDOW - now) * 1000)

local function num(s)
  if s == '' then return nil end
  return tonumber(s)
end

local function fmt(x)
  return string.format('%.17g', x)
end

-- Liveness of incarnations (one per process and connection), remembered for this call.
local alive = {}
local dead_before = now - PROCESS_TTL
local function is_alive(owner)
  local known = alive[owner]
  if known == nil then
    local seen = redis.call('ZSCORE', P .. 'procs', owner)
    known = seen ~= false and tonumber(seen) >= dead_before
    alive[owner] = known
  end
  return known
end

-- Sum a hash of per-incarnation counters ("<tag>:<incarnation>" -> n) by tag, counting
-- only live incarnations and dropping the fields of dead ones: what a process held when it
-- died (or lost Redis) stops counting once its heartbeat is PROCESS_TTL old.
local function live_sums(h)
  local all = redis.call('HGETALL', h)
  local sums = {p = 0, r = 0, f = 0}
  for i = 1, #all, 2 do
    local field = all[i]
    if is_alive(string.sub(field, 3)) then
      local tag = string.sub(field, 1, 1)
      sums[tag] = (sums[tag] or 0) + tonumber(all[i + 1])
    else
      redis.call('HDEL', h, field)
    end
  end
  return sums
end

-- Take back a count (floored at zero: the field goes).
local function decrement(h, field)
  if redis.call('HINCRBY', h, field, -1) <= 0 then
    redis.call('HDEL', h, field)
  end
end

local function window_counts(w)
  local counts = redis.call('HMGET', w, 'r', 't')
  return tonumber(counts[1]) or 0, tonumber(counts[2]) or 0
end

local function add_tokens(w, delta)
  if redis.call('HINCRBY', w, 't', delta) < 0 then
    redis.call('HSET', w, 't', 0)
  end
  redis.call('PEXPIRE', w, window_ms)
end

local function scope_keys(name, period)
  local base = P .. 's:' .. name
  return base .. ':w:' .. window, base .. ':l', base .. ':b:' .. period
end

-- A budget period's spend lives until the period ends (plus a grace); a budget with no
-- duration (period 0) keeps its spend for good.
local function add_spend(b, period, base, cost)
  redis.call('SET', b, base, 'NX')
  redis.call('INCRBYFLOAT', b, cost)
  local ends = tonumber(period)
  if ends > 0 then
    redis.call('PEXPIRE', b, math.ceil((math.max(ends - now, 0) + BUDGET_GRACE) * 1000))
  end
end

local function push_latency(d, seconds, first_token)
  local list = d .. (first_token == '1' and ':ttft' or ':lat')
  redis.call('RPUSH', list, seconds)
  redis.call('LTRIM', list, -RECENT, -1)
  redis.call('PEXPIRE', list, DAY_MS)
end

-- Settle a ticket (ARGV from a): undo (the incarnation it was admitted under, '' when its
-- parallel count and reservation are not held here), estimated tokens, used tokens,
-- reserve, cost, n scopes, then per scope: name, period, base spend.
local function settle(a)
  local n = tonumber(ARGV[a + 5] or '0') or 0
  if n == 0 then return end
  local undo, estimated, used = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local reserve, cost = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  for i = 1, n do
    local s = a + 5 + (i - 1) * 3
    local period, base = ARGV[s + 2], ARGV[s + 3]
    local w, l, b = scope_keys(ARGV[s + 1], period)
    if undo ~= '' then
      decrement(l, 'p:' .. undo)
      if reserve > 0 then
        local field = 'r:' .. undo
        if tonumber(redis.call('HINCRBYFLOAT', l, field, -reserve)) <= EPSILON then
          redis.call('HDEL', l, field)
        end
      end
    end
    if cost ~= 0 then
      add_spend(b, period, base, cost)
    end
    if used ~= estimated then
      add_tokens(w, used - estimated)
    end
  end
end

if op == 'acquire' then
  -- ARGV[5..]: deployment, rpm, tpm, tokens; then the ticket to admit (n = 0: none):
  -- its tokens, reserve, n scopes, the index of its (last) key scope, then per scope:
  -- name, rpm, tpm, parallel, max budget, period, base spend.
  local id, rpm, tpm, tokens = ARGV[5], num(ARGV[6]), num(ARGV[7]), tonumber(ARGV[8])
  local ticket_tokens, reserve = tonumber(ARGV[9]), tonumber(ARGV[10])
  local n, key_at = tonumber(ARGV[11]), tonumber(ARGV[12])
  local scopes = {}
  for i = 1, n do
    local a = 12 + (i - 1) * 7
    local s = {rpm = num(ARGV[a + 2]), tpm = num(ARGV[a + 3]), parallel = num(ARGV[a + 4]),
               budget = num(ARGV[a + 5]), base = tonumber(ARGV[a + 7])}
    s.w, s.l, s.b = scope_keys(ARGV[a + 1], ARGV[a + 6])
    local requests, used = window_counts(s.w)
    if s.rpm and requests >= s.rpm then return {2, i, 'rpm', requests, s.rpm} end
    if s.tpm and used > 0 and used + ticket_tokens > s.tpm then
      return {2, i, 'tpm', used, s.tpm}
    end
    if s.parallel or s.budget then
      local held = live_sums(s.l)
      if s.parallel and held.p >= s.parallel then
        return {2, i, 'parallel', held.p, s.parallel}
      end
      if s.budget then
        local spend = tonumber(redis.call('GET', s.b)) or s.base
        if spend >= s.budget or spend + held.r + reserve > s.budget + EPSILON then
          return {3, i, fmt(spend), fmt(held.r)}
        end
      end
    end
    scopes[i] = s
  end
  local d = P .. 'd:' .. id
  local cooldown = redis.call('GET', d .. ':cd')
  if cooldown and tonumber(cooldown) > now then return {0} end
  local w = d .. ':w:' .. window
  local requests, used = window_counts(w)
  if rpm and requests >= rpm then return {0} end
  if tpm and used > 0 and used + tokens > tpm then return {0} end
  redis.call('HINCRBY', w, 'r', 1)
  redis.call('HINCRBY', w, 't', math.max(0, tokens))
  redis.call('PEXPIRE', w, window_ms)
  redis.call('HINCRBY', d .. ':l', 'f:' .. inc, 1)
  redis.call('PEXPIRE', d .. ':l', DAY_MS)
  local requests_left, tokens_left, spend = false, false, false
  for i = 1, n do
    local s = scopes[i]
    local r = redis.call('HINCRBY', s.w, 'r', 1)
    local t = redis.call('HINCRBY', s.w, 't', math.max(0, ticket_tokens))
    redis.call('PEXPIRE', s.w, window_ms)
    redis.call('HINCRBY', s.l, 'p:' .. inc, 1)
    if reserve > 0 then redis.call('HINCRBYFLOAT', s.l, 'r:' .. inc, reserve) end
    redis.call('PEXPIRE', s.l, DAY_MS)
    if s.rpm and (not requests_left or s.rpm - r < requests_left) then
      requests_left = s.rpm - r
    end
    if s.tpm then
      local left = math.max(0, s.tpm - t)
      if not tokens_left or left < tokens_left then tokens_left = left end
    end
    if i == key_at then
      spend = redis.call('GET', s.b) or fmt(s.base)
    end
  end
  return {1, requests_left, tokens_left, spend}

elseif op == 'release' then
  -- ARGV[5..]: deployment, in flight to take back (0/1), latency ('' none), first token
  -- ('1'), tokens to add; then a ticket to settle (see settle), if any.
  local d = P .. 'd:' .. ARGV[5]
  if ARGV[6] == '1' then decrement(d .. ':l', 'f:' .. inc) end
  if ARGV[7] ~= '' then push_latency(d, ARGV[7], ARGV[8]) end
  local tokens = tonumber(ARGV[9])
  if tokens ~= 0 then add_tokens(d .. ':w:' .. window, tokens) end
  if #ARGV > 9 then settle(10) end
  return 1

elseif op == 'settle' then
  settle(5)
  return 1

elseif op == 'failure' then
  -- ARGV[5..]: deployment, a unique member: the failures of the last WINDOW seconds
  local f = P .. 'd:' .. ARGV[5] .. ':f'
  redis.call('ZREMRANGEBYSCORE', f, '-inf', fmt(now - WINDOW))
  redis.call('ZADD', f, ARGV[3], ARGV[6])
  redis.call('PEXPIRE', f, (WINDOW + 1) * 1000)
  return redis.call('ZCARD', f)

elseif op == 'cooldown' then
  -- ARGV[5..]: deployment, until, key lifetime (ms): a later cooldown wins; failures go
  local d = P .. 'd:' .. ARGV[5]
  local current = redis.call('GET', d .. ':cd')
  if not current or tonumber(ARGV[6]) > tonumber(current) then
    redis.call('SET', d .. ':cd', ARGV[6], 'PX', ARGV[7])
  end
  redis.call('DEL', d .. ':f')
  return 1

elseif op == 'latency' then
  push_latency(P .. 'd:' .. ARGV[5], ARGV[6], ARGV[7])
  return 1

elseif op == 'stats' then
  -- ARGV[5..]: deployments -> per deployment: cooldown until (nil: none), requests and
  -- tokens this window, in flight, latencies, times to first token, recent failures
  local out = {}
  for i = 5, #ARGV do
    local d = P .. 'd:' .. ARGV[i]
    local cooldown = redis.call('GET', d .. ':cd')
    if cooldown and tonumber(cooldown) <= now then cooldown = false end
    local requests, used = window_counts(d .. ':w:' .. window)
    out[#out + 1] = {cooldown, requests, used, live_sums(d .. ':l').f,
                     redis.call('LRANGE', d .. ':lat', 0, -1),
                     redis.call('LRANGE', d .. ':ttft', 0, -1),
                     redis.call('ZCOUNT', d .. ':f', '(' .. fmt(now - WINDOW), '+inf')}
  end
  return out

elseif op == 'beat' then
  -- This incarnation is alive; forget the long dead; how many are alive; Redis's clock.
  local procs = P .. 'procs'
  redis.call('ZADD', procs, ARGV[3], inc)
  redis.call('ZREMRANGEBYSCORE', procs, '-inf', '(' .. fmt(now - PROCESS_TTL))
  local time = redis.call('TIME')
  return {redis.call('ZCARD', procs), time[1], time[2]}

elseif op == 'leave' then
  -- An incarnation ends (reconnected, or shut down): what it held stops counting now.
  redis.call('ZREM', P .. 'procs', ARGV[5])
  return 1

elseif op == 'spend' then
  -- ARGV[5..]: n, then per budget: scope name, period, base spend, cost: the spend booked
  -- locally while Redis was away
  for i = 1, tonumber(ARGV[5]) do
    local a = 5 + (i - 1) * 4
    local _, _, b = scope_keys(ARGV[a + 1], ARGV[a + 2])
    add_spend(b, ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4]))
  end
  return 1
end

return redis.error_reply('gatewise: unknown operation ' .. tostring(op))
