local P, app, t = ARGV[1], ARGV[2], ARGV[3]
local waiting, attached, out = 0, {}, {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sessions:app:' .. app, t, '+inf')) do
  local rid = redis.call('HGET', P .. 'session:' .. sid, 'runner_id')
  if rid == '' then
    waiting = waiting + 1
  elseif rid and live(P, rid, t) then
    attached[rid] = (attached[rid] or 0) + 1
  end
end
out[1] = waiting
for rid, n in pairs(attached) do
  out[#out + 1] = rid
  out[#out + 1] = n
end
return out
