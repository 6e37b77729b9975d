local ids = redis.call('ZRANGEBYSCORE', P .. 'webhooks:due', '-inf', ARGV[3], 'LIMIT', 0,
                       tonumber(ARGV[5]))
for _, id in ipairs(ids) do
  redis.call('HSET', wkey(id), 'lease_owner', ARGV[2], 'next_at', ARGV[4])
  redis.call('ZADD', P .. 'webhooks:due', ARGV[4], id)
end
return ids
