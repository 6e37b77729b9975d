local ids = redis.call('ZRANGEBYSCORE', P .. 'completed', '-inf', ARGV[2], 'LIMIT', 0,
                       tonumber(ARGV[3]))
local gone = {}
for _, id in ipairs(ids) do
  local h = load(id)
  redis.call('ZREM', P .. 'completed', id)
  if h.status == 'COMPLETED' then
    index(id, h, false)
    listing(id, h, false)
    redis.call('DEL', rkey(id), P .. 'logs:' .. id, P .. 'events:' .. id)
    redis.call('PUBLISH', P .. 'changed:' .. id, '*')
    gone[#gone + 1] = id
  end
end
return gone
