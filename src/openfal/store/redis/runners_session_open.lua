local P, app, sid, t, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local akey = P .. 'sessions:app:' .. app
for _, old in ipairs(redis.call('ZRANGEBYSCORE', akey, '-inf', '(' .. t)) do forget(P, old) end
local cur = redis.call('HGET', P .. 'session:' .. sid, 'runner_id')
local chosen = nil
if cur and cur ~= '' and live(P, cur, t) then
  chosen = cur
else
  if cur and cur ~= '' then redis.call('ZREM', P .. 'sessions:runner:' .. cur, sid) end
  local best_load, best_started
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'runners:app:' .. app, t, '+inf')) do
    local h = redis.call('HMGET', P .. 'runner:' .. rid, 'state', 'in_flight',
                         'max_multiplexing', 'started_at')
    if h[1] == 'READY' then
      local load = tonumber(h[2]) + redis.call('ZCOUNT', P .. 'sessions:runner:' .. rid, t, '+inf')
      local started = tonumber(h[4])
      if load < tonumber(h[3]) and (chosen == nil or load < best_load
          or (load == best_load and started < best_started)) then
        chosen, best_load, best_started = rid, load, started
      end
    end
  end
end
redis.call('HSET', P .. 'session:' .. sid, 'app_id', app, 'runner_id', chosen or '',
           'expires_at', exp)
redis.call('ZADD', akey, exp, sid)
redis.call('ZADD', P .. 'sessions', exp, sid)
if chosen then
  redis.call('ZADD', P .. 'sessions:runner:' .. chosen, exp, sid)
  return redis.call('HGETALL', P .. 'runner:' .. chosen)
end
if cur ~= '' then  -- it waits now, and did not before: wake the app's scalers
  redis.call('PUBLISH', P .. 'work', '1')
  redis.call('PUBLISH', P .. 'work:' .. app, '1')
end
return false
