local limit, window, t = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rate = limit / window
local cur = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(cur[1]), tonumber(cur[2])
if tokens == nil or updated == nil then tokens, updated = limit, t end
local elapsed = t - updated
if elapsed < 0 then elapsed = 0 end
tokens = math.min(limit, tokens + elapsed * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'updated', string.format('%.17g', t))
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 2000) + 1000)
return string.format('%.17g', wait)
