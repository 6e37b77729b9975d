local n = 0
for _, id in ipairs(redis.call('ZRANGE', P .. 'webhooks:due', 0, -1)) do
  if redis.call('HEXISTS', wkey(id), 'lease_owner') == 1 then
    redis.call('HDEL', wkey(id), 'lease_owner')
    redis.call('HSET', wkey(id), 'next_at', ARGV[2])
    redis.call('ZADD', P .. 'webhooks:due', ARGV[2], id)
    n = n + 1
  end
end
return n
