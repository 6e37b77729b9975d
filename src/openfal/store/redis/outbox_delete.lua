redis.call('DEL', wkey(ARGV[2]))
redis.call('ZREM', P .. 'webhooks:waiting', ARGV[2])
redis.call('ZREM', P .. 'webhooks:due', ARGV[2])
redis.call('ZREM', P .. 'webhooks:finished', ARGV[2])
return 1
