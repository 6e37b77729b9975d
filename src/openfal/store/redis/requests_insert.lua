local id = ARGV[2]
local key = rkey(id)
if redis.call('EXISTS', key) == 1 then return false end
local seq = redis.call('INCR', P .. 'seq')
if seq >= SHIFT then return redis.error_reply('openfal: request sequence exhausted') end
local n = tonumber(ARGV[3])
local sets = {}
for j = 1, 2 * n do sets[j] = ARGV[3 + j] end
redis.call('HSET', key, 'seq', seq, unpack(sets))
local h = load(id)
index(id, h, true)
listing(id, h, true)
bump(id, h.status, nil)
return seq
