local P = ARGV[1]
local function wkey(id) return P .. 'webhook:' .. id end
local function reindex(id)
  local h = redis.call('HMGET', wkey(id), 'state', 'next_at', 'created_at', 'updated_at')
  redis.call('ZREM', P .. 'webhooks:waiting', id)
  redis.call('ZREM', P .. 'webhooks:due', id)
  redis.call('ZREM', P .. 'webhooks:finished', id)
  if h[1] == 'WAITING' then
    redis.call('ZADD', P .. 'webhooks:waiting', h[3], id)
  elseif h[1] == 'PENDING' then
    redis.call('ZADD', P .. 'webhooks:due', h[2] or h[4], id)
  elseif h[1] then
    redis.call('ZADD', P .. 'webhooks:finished', h[4], id)
  end
end
-- nsets, k1, v1, ..., ndels, d1, ... from ARGV[i] on
local function apply(id, i)
  local nsets = tonumber(ARGV[i])
  if nsets > 0 then
    redis.call('HSET', wkey(id), unpack(ARGV, i + 1, i + 2 * nsets))
  end
  i = i + 2 * nsets + 1
  local ndels = tonumber(ARGV[i])
  if ndels > 0 then redis.call('HDEL', wkey(id), unpack(ARGV, i + 1, i + ndels)) end
  reindex(id)
end
