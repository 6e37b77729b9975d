local P, t = ARGV[1], ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', P .. 'runners', '-inf', '(' .. t)
for _, id in ipairs(ids) do drop(P, id) end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. 'workers:exp', '-inf', '(' .. t)) do
  redis.call('HDEL', P .. 'workers', w)
  redis.call('ZREM', P .. 'workers:exp', w)
end
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sessions', '-inf', '(' .. t)) do
  forget(P, sid)
end
return #ids
