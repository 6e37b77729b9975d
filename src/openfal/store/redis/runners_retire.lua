local P, id, keep, t = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = redis.call('HMGET', P .. 'runner:' .. id, 'app_id', 'state')
local score = redis.call('ZSCORE', P .. 'runners', id)
if (not h[1]) or (not score) or tonumber(score) < tonumber(t) or h[2] == 'STOPPING' then
  return 0
end
local active = 0
for _, other in ipairs(redis.call('ZRANGEBYSCORE', P .. 'runners:app:' .. h[1], t, '+inf')) do
  if redis.call('HGET', P .. 'runner:' .. other, 'state') ~= 'STOPPING' then
    active = active + 1
  end
end
if active <= keep then return 0 end
redis.call('HSET', P .. 'runner:' .. id, 'state', 'STOPPING')
return 1
