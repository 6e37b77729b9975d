local ids = redis.call('ZRANGEBYSCORE', P .. 'webhooks:finished', '-inf', ARGV[2])
for _, id in ipairs(ids) do
  redis.call('DEL', wkey(id))
  redis.call('ZREM', P .. 'webhooks:finished', id)
end
return #ids
