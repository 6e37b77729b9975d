local function live(P, rid, t)
  local score = redis.call('ZSCORE', P .. 'runners', rid)
  return score ~= false and score ~= nil and tonumber(score) >= tonumber(t)
end
local function forget(P, sid)
  local h = redis.call('HMGET', P .. 'session:' .. sid, 'app_id', 'runner_id')
  if h[2] and h[2] ~= '' then redis.call('ZREM', P .. 'sessions:runner:' .. h[2], sid) end
  if h[1] then redis.call('ZREM', P .. 'sessions:app:' .. h[1], sid) end
  redis.call('ZREM', P .. 'sessions', sid)
  redis.call('DEL', P .. 'session:' .. sid)
end
