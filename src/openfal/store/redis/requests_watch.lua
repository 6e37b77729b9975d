-- ARGV: prefix, id, me  -> the request's version (0: no such request), after adding
-- ``me`` to the processes its changes are published to
local key = rkey(ARGV[2])
local cur = redis.call('HMGET', key, 'status', '_v', '_w')
if not cur[1] then return 0 end
local w = cur[3] or ''
if not string.find(' ' .. w .. ' ', ' ' .. ARGV[3] .. ' ', 1, true) then
  redis.call('HSET', key, '_w', w == '' and ARGV[3] or (w .. ' ' .. ARGV[3]))
end
return tonumber(cur[2] or '0')
