-- ARGV: prefix, id, me, quiet, check_worker, worker, lease_before ('' = any),
--   known version ('' = none), nexpect, s1.., nsets, k1, v1, .., ndels, d1, ..
-- -> false when the compare-and-set fails; else {version} when the caller's copy was at
--    the known version, or {version, HGETALL} (the record before the change) otherwise
local id = ARGV[2]
local key = rkey(id)
local nexp = tonumber(ARGV[9])
local i = 10 + nexp
local nsets = tonumber(ARGV[i])
local sets = {}
local new = {}
for j = 1, nsets do
  local name, value = ARGV[i + 2 * j - 1], ARGV[i + 2 * j]
  sets[#sets + 1] = name
  sets[#sets + 1] = value
  new[name] = value
end
i = i + 2 * nsets + 1
local ndels = tonumber(ARGV[i])
local fields = {'status', 'worker_id', 'lease_expires', 'app_id', 'priority', 'seq', '_v', '_w'}
for j = 1, ndels do fields[8 + j] = ARGV[i + j] end
local cur = redis.call('HMGET', key, unpack(fields))
local status = cur[1]
if not status then return false end
local ok = false
for j = 1, nexp do
  if ARGV[9 + j] == status then ok = true end
end
if not ok then return false end
if ARGV[5] == '1' and cur[2] ~= ARGV[6] then return false end
local cur_lease = tonumber(cur[3] or '')
if ARGV[7] ~= '' and not (cur_lease and cur_lease < tonumber(ARGV[7])) then
  return false
end
local old_v = tonumber(cur[7] or '0')
local v = old_v
local quiet = ARGV[4] == '1'
if not quiet then
  v = v + 1
  sets[#sets + 1] = '_v'
  sets[#sets + 1] = v
end
local before = nil
if ARGV[8] == '' or tonumber(ARGV[8]) ~= old_v then before = redis.call('HGETALL', key) end
if #sets > 0 then redis.call('HSET', key, unpack(sets)) end
local dels = {}
for j = 1, ndels do
  if cur[8 + j] then dels[#dels + 1] = fields[8 + j] end
end
if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end

-- the indexes of its status
local app = cur[4]
local new_status = new.status or status
local lease = new.lease_expires
if lease == '' then lease = nil end
if new_status ~= status then
  if status == 'IN_QUEUE' then
    redis.call('ZREM', P .. 'queue:' .. app, id)
  elseif status == 'IN_PROGRESS' then
    redis.call('ZREM', P .. 'running', rmember(app, id))
  end
  if new_status == 'IN_QUEUE' then
    local score = tonumber(new.priority or cur[5]) * SHIFT + tonumber(new.seq or cur[6])
    redis.call('ZADD', P .. 'queue:' .. app, score, id)
    -- requeued: the next attempt streams its events afresh
    redis.call('DEL', P .. 'events:' .. id)
    work(app)
  elseif new_status == 'IN_PROGRESS' and lease then
    redis.call('ZADD', P .. 'running', lease, rmember(app, id))
  end
elseif status == 'IN_PROGRESS' and lease then
  redis.call('ZADD', P .. 'running', lease, rmember(app, id))
end
if not quiet then notify(id, cur[8], v, ARGV[3]) end
if before then return {v, before} end
return {v}
