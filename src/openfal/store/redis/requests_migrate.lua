-- ARGV: prefix  -> how many leases it moved. Run once where a store of the older layout
-- left its 'leases' zset: the IN_PROGRESS requests go to 'running' (so a lease that
-- expires still requeues them); the counters and the 'completed' index go.
local old = redis.call('ZRANGE', P .. 'leases', 0, -1, 'WITHSCORES')
for i = 1, #old, 2 do
  local id = old[i]
  local h = redis.call('HMGET', rkey(id), 'status', 'app_id')
  if h[1] == 'IN_PROGRESS' and h[2] then
    redis.call('ZADD', P .. 'running', old[i + 1], rmember(h[2], id))
  end
end
redis.call('DEL', P .. 'leases', P .. 'completed', P .. 'version', P .. 'workver', P .. 'seq')
return #old / 2
