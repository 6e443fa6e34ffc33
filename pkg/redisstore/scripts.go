package redisstore

// The Lua scripts that make each step one atomic Redis round trip. Every key a script
// touches is passed in KEYS and shares the hash tag of the token key, so the scripts run
// on Redis Cluster too. They are sent with EVAL, not EVALSHA: a NOSCRIPT answer after a
// Redis restart or failover would cost a second round trip, and the scripts are small.
//
// Keys of one token (see Store.keys): KEYS[1] the token, KEYS[2] the fetch lock, KEYS[3]
// the set of the waiters of the lock's current holder (each waiter's own fence, so that a
// waiter registering twice counts once), KEYS[4] the holder's wake-up list, named after
// its fence: the holder pushes one message per waiter there, and only its own waiters
// read it, so a message left over (its waiter gave up) never answers the next fetch;
// KEYS[5] the cool-down, whose Redis TTL is what is left of it (Redis's clock, not the
// instances', decides when it ends).

// putLua writes a token value unless the stored one expires no earlier: a slow instance
// never replaces a newer token with an older one. A stored value that does not decode
// (another format, garbage) is replaced.
const putLua = `
local function put(k, v, exp, ttl)
  local cur = redis.call('GET', k)
  if cur then
    local ok, d = pcall(cjson.decode, cur)
    if ok and type(d) == 'table' and tonumber(d.exp_ms) and tonumber(d.exp_ms) >= tonumber(exp) then
      return 0
    end
  end
  redis.call('SET', k, v, 'PX', ttl)
  return 1
end
`

// storeLua: ARGV value, exp_ms, ttl_ms. Returns 1 if written. A token written ends the
// cool-down (KEYS[2]): the endpoint answers again.
const storeLua = putLua + `
local stored = put(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if stored == 1 then
  redis.call('DEL', KEYS[2])
end
return stored
`

// loadCooldownLua reads the cool-down and what is left of it. Returns {value or ”, ms}.
const loadCooldownLua = `
local v = redis.call('GET', KEYS[1])
if not v then
  return {'', 0}
end
return {v, redis.call('PTTL', KEYS[1])}
`

// deleteLua deletes the token if it is still the one given. ARGV access token.
const deleteLua = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, d = pcall(cjson.decode, cur)
  if ok and type(d) == 'table' and d.access_token == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
end
return 0
`

// acquireLua reads the token and takes the lock in one round trip. ARGV fence, lock TTL
// in ms. Returns {2, token or ”, the cool-down's remaining ms, the cool-down} when a
// cool-down is in force: no lock is taken, no request is to be made. Else returns {1,
// token or ”, 0, ”} when the lock is now held with fence (a retried call finds its own
// fence), or adds fence to the holder's waiters and returns {0, token or ”, the lock's
// remaining ms, the holder's fence}. A lock without expiry (set by hand, or by a buggy
// client) is given one, so that it can never block the fleet for good.
const acquireLua = `
local tok = redis.call('GET', KEYS[1]) or ''
local cd = redis.call('GET', KEYS[5])
if cd then
  local left = redis.call('PTTL', KEYS[5])
  if left > 0 then
    return {2, tok, left, cd}
  end
end
local cur = redis.call('GET', KEYS[2])
local ttl = tonumber(ARGV[2])
if not cur or cur == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
  return {1, tok, 0, ''}
end
local pttl = redis.call('PTTL', KEYS[2])
if pttl < 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  pttl = ttl
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('PEXPIRE', KEYS[3], pttl + ttl)
return {0, tok, pttl, cur}
`

// renewLua extends the lock while its holder is still fetching. ARGV fence, lock TTL in
// ms. Returns 1 if the lock is still held with fence.
const renewLua = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('PEXPIRE', KEYS[3], 2 * ttl)
end
return 1
`

// releaseLua ends a fetch in one round trip: it deletes the lock if it still holds fence
// (compare and delete), stores the fetched token (ending any cool-down) or the cool-down
// the failed fetch started unless another instance holds the lock by now (it is fetching
// a newer one), and wakes the instances waiting for this fetch by pushing one message
// each: the token, or ” when the fetch failed (they then try to take the lock
// themselves, and find the cool-down), into this holder's own wake list. ARGV fence,
// value to store or ”, its exp_ms, its ttl_ms, wake message, wake list TTL in ms,
// cool-down or ”, its ms. Returns {1 if fence still held the lock, 1 if stored}.
const releaseLua = putLua + `
local cur = redis.call('GET', KEYS[2])
local held = cur == ARGV[1]
if held then
  redis.call('DEL', KEYS[2])
end
local stored = 0
if held or not cur then
  if ARGV[2] ~= '' then
    stored = put(KEYS[1], ARGV[2], ARGV[3], ARGV[4])
    redis.call('DEL', KEYS[5])
  elseif ARGV[7] ~= '' then
    redis.call('SET', KEYS[5], ARGV[7], 'PX', ARGV[8])
  end
  local n = redis.call('SCARD', KEYS[3])
  redis.call('DEL', KEYS[3])
  if n > 0 then
    for i = 1, n do
      redis.call('RPUSH', KEYS[4], ARGV[5])
    end
    redis.call('PEXPIRE', KEYS[4], ARGV[6])
  end
end
if held then
  return {1, stored}
end
return {0, stored}
`
