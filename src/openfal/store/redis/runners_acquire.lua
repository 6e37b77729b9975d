local P, id, app = ARGV[1], ARGV[2], ARGV[3]
local limit, t = tonumber(ARGV[4]), ARGV[5]
local akey = P .. 'runners:app:' .. app
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', akey, '-inf', '(' .. t)) do
  drop(P, dead)
end
if redis.call('EXISTS', P .. 'runner:' .. id) == 1 then return 0 end
if redis.call('ZCARD', akey) >= limit then return 0 end
put(P, id, app, ARGV[6], 8, tonumber(ARGV[7]))
return 1
