local P = ARGV[1]
local SHIFT = 1099511627776
local IDX = {'status', 'app_id', 'priority', 'seq', 'lease_expires', 'completed_at',
             'created_at', 'owner'}
local STATE = {'status', 'app_id', 'priority', 'seq', 'lease_expires', 'completed_at'}
local LISTED = {'app_id', 'seq', 'created_at', 'owner'}

local function rkey(id) return P .. 'req:' .. id end

local function load(id)
  local v = redis.call('HMGET', rkey(id), unpack(IDX))
  local h = {}
  for i, name in ipairs(IDX) do h[name] = v[i] end
  return h
end

local function differ(a, b, names)
  for _, n in ipairs(names) do
    if a[n] ~= b[n] then return true end
  end
  return false
end

-- add (true) or remove (false) the request to/from the indexes of its status
local function index(id, h, add)
  local app = h.app_id
  if h.status == 'IN_QUEUE' then
    local k = P .. 'queue:' .. app
    if add then
      redis.call('ZADD', k, tonumber(h.priority) * SHIFT + tonumber(h.seq), id)
    else
      redis.call('ZREM', k, id)
    end
  elseif h.status == 'IN_PROGRESS' then
    if add then
      redis.call('SADD', P .. 'running:' .. app, id)
      if h.lease_expires then redis.call('ZADD', P .. 'leases', h.lease_expires, id) end
    else
      redis.call('SREM', P .. 'running:' .. app, id)
      redis.call('ZREM', P .. 'leases', id)
    end
  elseif h.status == 'COMPLETED' then
    if add then
      redis.call('SADD', P .. 'done:' .. app, id)
      if h.completed_at then redis.call('ZADD', P .. 'completed', h.completed_at, id) end
    else
      redis.call('SREM', P .. 'done:' .. app, id)
      redis.call('ZREM', P .. 'completed', id)
    end
  end
end

-- add or remove the request to/from the listing indexes (newest first, seq breaks ties)
local function listing(id, h, add)
  if not h.seq then return end
  local m = string.rep('0', 13 - string.len(h.seq)) .. h.seq .. ':' .. id
  local keys = {P .. 'created', P .. 'created:app:' .. h.app_id}
  if h.owner then keys[3] = P .. 'created:owner:' .. h.owner end
  for _, k in ipairs(keys) do
    if add then redis.call('ZADD', k, h.created_at, m) else redis.call('ZREM', k, m) end
  end
end

-- a new version for the request, announced on its channel (and on 'work' when it
-- entered a queue)
local function bump(id, new_status, old_status)
  local v = redis.call('INCR', P .. 'version')
  redis.call('HSET', rkey(id), '_v', v)
  redis.call('PUBLISH', P .. 'changed:' .. id, v)
  if new_status == 'IN_QUEUE' and old_status ~= 'IN_QUEUE' then
    local wv = redis.call('INCR', P .. 'workver')
    redis.call('PUBLISH', P .. 'work', wv)
    redis.call('PUBLISH', P .. 'work:' .. redis.call('HGET', rkey(id), 'app_id'), wv)
  end
end

-- apply changes encoded from ARGV[i] on: nsets, k1, v1, ..., ndels, d1, ...
local function apply(id, i, quiet)
  local key = rkey(id)
  local nsets = tonumber(ARGV[i])
  local sets = {}
  for j = 1, 2 * nsets do sets[j] = ARGV[i + j] end
  i = i + 2 * nsets + 1
  local ndels = tonumber(ARGV[i])
  local dels = {}
  for j = 1, ndels do dels[j] = ARGV[i + j] end
  if nsets + ndels == 0 then return redis.call('HGETALL', key) end
  local old = load(id)
  if nsets > 0 then redis.call('HSET', key, unpack(sets)) end
  if ndels > 0 then redis.call('HDEL', key, unpack(dels)) end
  local new = load(id)
  if differ(old, new, STATE) then
    index(id, old, false)
    index(id, new, true)
  end
  if differ(old, new, LISTED) then
    listing(id, old, false)
    listing(id, new, true)
  end
  -- requeued: the next attempt streams its events afresh
  if new.status == 'IN_QUEUE' and old.status ~= 'IN_QUEUE' then
    redis.call('DEL', P .. 'events:' .. id)
  end
  if not quiet then bump(id, new.status, old.status) end
  return redis.call('HGETALL', key)
end
