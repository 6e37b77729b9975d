local id = ARGV[2]
local k = P .. ARGV[3] .. ':' .. id
for i = 4, #ARGV, 1000 do
  redis.call('RPUSH', k, unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('EXISTS', rkey(id)) == 1 then
  local h = load(id)
  bump(id, h.status, h.status)
else
  redis.call('PUBLISH', P .. 'changed:' .. id, '*')
end
return 1
