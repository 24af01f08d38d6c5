-- Fill the key, but only while the lease is still ours.
-- KEYS: the cache entry, its lease. ARGV: token, value, ttl in seconds (0: none).
-- A write's DEL (or another reader taking over an expired lease) replaced it, and the value we read may then
-- be older than the database's. Answers 1 (filled, lease handed back) or 0 (refused).
local held = redis.call('GET', KEYS[2])
if not held or string.sub(held, 1, #ARGV[1] + 1) ~= ARGV[1] .. '|' then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('DEL', KEYS[2])
return 1
