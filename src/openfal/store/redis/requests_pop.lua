local napps = tonumber(ARGV[2])
local best, best_score
for j = 1, napps do
  local head = redis.call('ZRANGE', P .. 'queue:' .. ARGV[2 + j], 0, 0, 'WITHSCORES')
  if head[1] then
    local s = tonumber(head[2])
    if best == nil or s < best_score then best, best_score = head[1], s end
  end
end
if best == nil then return tonumber(redis.call('GET', P .. 'workver') or '0') end
redis.call('HINCRBY', rkey(best), 'attempts', 1)
return apply(best, 3 + napps, false)
