-- Fill a key and store beside it what early refresh needs: δ (how long the recompute took), its expiry on the
-- lab's simulated clock and its TTL; or drop that hash, when the key is filled without early refresh.
-- KEYS: the cache entry, its early-refresh hash. ARGV: value, ttl in seconds (0: none), δ in ms ('': drop the
-- hash), expiry (simulated seconds). The hash expires with the value (Redis's own clock), never before it.
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('HSET', KEYS[2], 'delta', ARGV[3], 'expiry', ARGV[4], 'ttl', ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return 1
