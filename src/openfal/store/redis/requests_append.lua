-- ARGV: prefix, id, me, 'logs' | 'events', item1, ...
local id = ARGV[2]
local k = P .. ARGV[4] .. ':' .. id
for i = 5, #ARGV, 1000 do
  redis.call('RPUSH', k, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local cur = redis.call('HMGET', rkey(id), 'status', '_v', '_w')
if cur[1] then
  local v = tonumber(cur[2] or '0') + 1
  redis.call('HSET', rkey(id), '_v', v)
  notify(id, cur[3], v, ARGV[3])
  return v
end
return 0
