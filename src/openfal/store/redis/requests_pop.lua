-- ARGV: prefix, me, napps, app1.., nsets, k1, v1, .. (status, worker, lease, started_at)
-- -> {version, HGETALL before the change} of the claimed request, or false when every
--    queue is empty
local napps = tonumber(ARGV[3])
local best, best_app
if napps == 1 then
  local head = redis.call('ZPOPMIN', P .. 'queue:' .. ARGV[4])
  if not head[1] then return false end
  best, best_app = head[1], ARGV[4]
else
  local best_score
  for j = 1, napps do
    local app = ARGV[3 + j]
    local head = redis.call('ZRANGE', P .. 'queue:' .. app, 0, 0, 'WITHSCORES')
    if head[1] then
      local s = tonumber(head[2])
      if best == nil or s < best_score then best, best_score, best_app = head[1], s, app end
    end
  end
  if best == nil then return false end
  redis.call('ZREM', P .. 'queue:' .. best_app, best)
end
local key = rkey(best)
local raw = redis.call('HGETALL', key)
local h = {}
for j = 1, #raw, 2 do h[raw[j]] = raw[j + 1] end
local i = 4 + napps
local nsets = tonumber(ARGV[i])
local sets = {}
local lease
for j = 1, nsets do
  local name, value = ARGV[i + 2 * j - 1], ARGV[i + 2 * j]
  sets[#sets + 1] = name
  sets[#sets + 1] = value
  if name == 'lease_expires' then lease = value end
end
local v = tonumber(h._v or '0') + 1
redis.call('HSET', key, 'attempts', tonumber(h.attempts or '0') + 1, '_v', v, unpack(sets))
redis.call('ZADD', P .. 'running', lease, rmember(best_app, best))
notify(best, h._w, v, ARGV[2])
return {v, raw}
