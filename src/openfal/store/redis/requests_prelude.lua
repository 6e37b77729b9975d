-- shared by the request scripts; ARGV[1] is always the key prefix
local P = ARGV[1]
local SHIFT = 1099511627776

local function rkey(id) return P .. 'req:' .. id end

-- the member of the 'running' zset: app id and request id (app ids hold no newline)
local function rmember(app, id) return app .. '\n' .. id end

-- tell the processes watching a request (its '_w' field, space-separated tokens) that
-- it changed, except ``me`` (the caller, which wakes its own waiters in-process)
local function notify(id, w, v, me)
  if not w then return end
  for tok in string.gmatch(w, '%S+') do
    if tok ~= me then redis.call('PUBLISH', P .. 'proc:' .. tok, id .. ' ' .. v) end
  end
end

-- a request entered a queue: wake claimers of any app and of that app
local function work(app)
  redis.call('PUBLISH', P .. 'work', '1')
  redis.call('PUBLISH', P .. 'work:' .. app, '1')
end
