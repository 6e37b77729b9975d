local function drop(P, id)
  local app = redis.call('HGET', P .. 'runner:' .. id, 'app_id')
  redis.call('DEL', P .. 'runner:' .. id)
  redis.call('ZREM', P .. 'runners', id)
  if app then redis.call('ZREM', P .. 'runners:app:' .. app, id) end
end
local function put(P, id, app, exp, first, n)
  local sets = {}
  for j = 1, 2 * n do sets[j] = ARGV[first + j - 1] end
  redis.call('HSET', P .. 'runner:' .. id, unpack(sets))
  redis.call('ZADD', P .. 'runners', exp, id)
  redis.call('ZADD', P .. 'runners:app:' .. app, exp, id)
end
