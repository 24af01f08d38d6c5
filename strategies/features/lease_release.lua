-- Hand a lease back. KEYS: a lease. ARGV: token. Deletes the lease only if it is still that token's.
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then return redis.call('DEL', KEYS[1]) end
return 0
