-- Read a key and, beside it, what early refresh needs (XFetch's "value, δ, expiry"), in one round trip.
-- KEYS: the cache entry, its early-refresh hash. Answers {value, δ ms, expiry (simulated s), ttl}; nil where
-- absent (a missing key answers nil for all four: a hash that outlived its value says nothing).
local value = redis.call('GET', KEYS[1])
if not value then return {false, false, false, false} end
local early = redis.call('HMGET', KEYS[2], 'delta', 'expiry', 'ttl')
return {value, early[1], early[2], early[3]}
