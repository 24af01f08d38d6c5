-- After the commit, the flusher settles its batch.
-- KEYS: the queue, the pending values, the pending entry ids, then the cache entry of each flushed key.
-- ARGV: ttl (0: none), n, n entry ids, then per flushed key: key, the value written, its last entry id.
-- A key leaves the pending index only if no newer write arrived meanwhile; then it gets its TTL, if the
-- cache still holds the value that was written. Answers {settled keys, keys given their TTL, entries deleted}.
local n = tonumber(ARGV[2])
local deleted = 0
if n > 0 then deleted = redis.call('XDEL', KEYS[1], unpack(ARGV, 3, 2 + n)) end
local settled, timed, k = {}, {}, 0
for i = 3 + n, #ARGV, 3 do
  k = k + 1
  local key, value, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', KEYS[3], key) == id and redis.call('HGET', KEYS[2], key) == value then
    redis.call('HDEL', KEYS[2], key)
    redis.call('HDEL', KEYS[3], key)
    table.insert(settled, key)
    if tonumber(ARGV[1]) > 0 and redis.call('GET', KEYS[3 + k]) == value then
      redis.call('EXPIRE', KEYS[3 + k], ARGV[1])
      table.insert(timed, key)
    end
  end
end
return {settled, timed, deleted}
