-- ARGV: prefix, id, status, app, score (queue: priority*SHIFT+seq; running: lease),
--   listing member, created_at, nfields, k1, v1, ...
-- -> 1, or 0 when the id exists
local id = ARGV[2]
local key = rkey(id)
if redis.call('EXISTS', key) == 1 then return 0 end
local n = tonumber(ARGV[8])
redis.call('HSET', key, unpack(ARGV, 9, 8 + 2 * n))
local status, app = ARGV[3], ARGV[4]
if status == 'IN_QUEUE' then
  redis.call('ZADD', P .. 'queue:' .. app, ARGV[5], id)
  work(app)
elseif status == 'IN_PROGRESS' then
  redis.call('ZADD', P .. 'running', ARGV[5], rmember(app, id))
end
redis.call('ZADD', P .. 'created', ARGV[7], ARGV[6])
return 1
