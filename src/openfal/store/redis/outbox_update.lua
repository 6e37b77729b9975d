local id = ARGV[2]
local cur = redis.call('HMGET', wkey(id), 'state', 'lease_owner')
if cur[1] ~= ARGV[3] then return false end
if ARGV[4] ~= '' and cur[2] ~= ARGV[4] then return false end
apply(id, 5)
return redis.call('HGETALL', wkey(id))
