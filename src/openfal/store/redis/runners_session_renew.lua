local P, sid, t, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = redis.call('HMGET', P .. 'session:' .. sid, 'app_id', 'runner_id', 'expires_at')
if not h[1] then return 0 end
if h[2] == '' or tonumber(h[3]) < tonumber(t) or not live(P, h[2], t) then
  forget(P, sid)
  return 0
end
redis.call('HSET', P .. 'session:' .. sid, 'expires_at', exp)
redis.call('ZADD', P .. 'sessions:app:' .. h[1], exp, sid)
redis.call('ZADD', P .. 'sessions:runner:' .. h[2], exp, sid)
redis.call('ZADD', P .. 'sessions', exp, sid)
return 1
