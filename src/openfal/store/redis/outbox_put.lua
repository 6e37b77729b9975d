local id = ARGV[2]
if redis.call('EXISTS', wkey(id)) == 1 then return 0 end
apply(id, 3)
return 1
