-- ARGV: prefix, before ('(t'), offset, limit
-- -> {scanned, deleted id, ...}: walks the oldest entries of 'created' (a request
--    completed before t was created before t), deleting those COMPLETED before t
local entries = redis.call('ZRANGEBYSCORE', P .. 'created', '-inf', ARGV[2], 'LIMIT',
                           tonumber(ARGV[3]), tonumber(ARGV[4]))
local out = {#entries}
local t = tonumber(string.sub(ARGV[2], 2))
for _, m in ipairs(entries) do
  local id = string.sub(m, 15)
  local key = rkey(id)
  local h = redis.call('HMGET', key, 'status', 'completed_at', '_w')
  if not h[1] then
    redis.call('ZREM', P .. 'created', m)  -- a stray entry
    out[#out + 1] = ''
  elseif h[1] == 'COMPLETED' and tonumber(h[2] or '') and tonumber(h[2]) < t then
    redis.call('ZREM', P .. 'created', m)
    redis.call('DEL', key, P .. 'logs:' .. id, P .. 'events:' .. id)
    notify(id, h[3], '*', '')
    out[#out + 1] = id
  end
end
return out
