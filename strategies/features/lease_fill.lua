-- Fill the key, but only while the lease is still ours.
-- KEYS: the cache entry, its lease[, its early-refresh hash]. ARGV: token, value, ttl in seconds (0: none)[, δ in ms
-- ('': drop the hash), expiry (simulated seconds)] — with early refresh on, the fill stores δ beside the key as
-- early_fill.lua does.
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
if KEYS[3] then
  if ARGV[4] == '' then
    redis.call('DEL', KEYS[3])
  else
    redis.call('HSET', KEYS[3], 'delta', ARGV[4], 'expiry', ARGV[5], 'ttl', ARGV[3])
    redis.call('EXPIRE', KEYS[3], ARGV[3])
  end
end
return 1
