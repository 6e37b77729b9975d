local P, t, exp = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local lost = {}
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local id, app, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local score = redis.call('ZSCORE', P .. 'runners', id)
  if (not score) or tonumber(score) < t then
    drop(P, id)
    lost[#lost + 1] = id
  else
    local state = redis.call('HGET', P .. 'runner:' .. id, 'state')
    put(P, id, app, exp, i + 3, n)
    if state == 'STOPPING' then redis.call('HSET', P .. 'runner:' .. id, 'state', state) end
  end
  i = i + 3 + 2 * n
end
return lost
