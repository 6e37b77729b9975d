local id = ARGV[2]
local nexp = tonumber(ARGV[7])
local cur = redis.call('HMGET', rkey(id), 'status', 'worker_id', 'lease_expires')
if not cur[1] then return false end
local ok = false
for j = 1, nexp do
  if ARGV[7 + j] == cur[1] then ok = true end
end
if not ok then return false end
if ARGV[4] == '1' and cur[2] ~= ARGV[5] then return false end
if ARGV[6] ~= '' and not (cur[3] and tonumber(cur[3]) < tonumber(ARGV[6])) then
  return false
end
return apply(id, 8 + nexp, ARGV[3] == '1')
