local P, id, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t, grace = tonumber(ARGV[4]), tonumber(ARGV[5])
local held = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #held, 2 do
  local status = redis.call('HGET', P .. 'req:' .. held[i], 'status')
  if status == 'COMPLETED' or (not status and tonumber(held[i + 1]) < t - grace) then
    redis.call('ZREM', KEYS[1], held[i])
  end
end
if redis.call('ZSCORE', KEYS[1], id) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], id)
return 1
