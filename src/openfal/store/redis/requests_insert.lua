-- ARGV: prefix, id, status, app, score (queue: priority*SHIFT+seq; running: lease),
--   listing member ("{seq}:{id}"), created_at, named ('1': the caller named the id,
--   '0': it was minted here, a random UUID), seq, nfields, k1, v1, ...
-- -> 1, or 0 when the id belongs to another request
--
-- A minted id is nobody else's: its listing entry (this insert's own seq) is the check,
-- and finding it means this very insert ran before (a retry after a lost reply). A
-- named id is looked up: a hash with another seq is another request.
local id = ARGV[2]
local key = rkey(id)
if ARGV[8] == '1' then
  local seq = redis.call('HGET', key, 'seq')
  if seq then
    if seq == ARGV[9] then return 1 end
    return 0
  end
  redis.call('ZADD', P .. 'created', ARGV[7], ARGV[6])
elseif redis.call('ZADD', P .. 'created', 'NX', ARGV[7], ARGV[6]) == 0 then
  return 1
end
local n = tonumber(ARGV[10])
redis.call('HSET', key, unpack(ARGV, 11, 10 + 2 * n))
local status, app = ARGV[3], ARGV[4]
if status == 'IN_QUEUE' then
  redis.call('ZADD', P .. 'queue:' .. app, ARGV[5], id)
  work(app)
elseif status == 'IN_PROGRESS' then
  redis.call('ZADD', P .. 'running', ARGV[5], rmember(app, id))
end
return 1
