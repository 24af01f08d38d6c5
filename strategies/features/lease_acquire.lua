-- Take the lease on a missing key (cache-aside with leases, the memcache paper §3.2.1).
-- KEYS: the cache entry, its lease. ARGV: token, now (simulated ms), the lease's end (simulated ms), PX (wall ms).
-- Redis's own TTLs follow the wall clock while the lab's time is simulated, so the lease stores its simulated
-- end as "token|end" and this script decides by the `now` it is given whether a lease still stands.
-- Answers {1, ''}: granted; {0, held}: another reader holds it; {2, value}: the key was filled meanwhile.
local value = redis.call('GET', KEYS[1])
if value then return {2, value} end
local held = redis.call('GET', KEYS[2])
if held then
  local ends = tonumber(string.match(held, '|([^|]*)$'))
  if ends and ends > tonumber(ARGV[2]) then return {0, held} end
end
redis.call('SET', KEYS[2], ARGV[1] .. '|' .. ARGV[3], 'PX', ARGV[4])
return {1, ''}
