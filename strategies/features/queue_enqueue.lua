-- Write-behind's write: set the value and queue the change, atomically.
-- KEYS: the cache entry, the pending values, the pending entry ids, the queue.
-- ARGV: key, value, entry id, queued at, coalesce ("1"/"0"), queue limit (0: none), then the ids of the
-- batch a flush has read and not yet acknowledged: a write never coalesces into one of those (the flush
-- already holds the older value), it is queued afresh instead.
-- Answers {'queued', id}, {'coalesced', the id of the entry that now carries the value} or {'full', ''}.
local key, value, id = ARGV[1], ARGV[2], ARGV[3]
local coalesced = ARGV[5] == '1' and redis.call('HEXISTS', KEYS[2], key) == 1
if coalesced then
  local waiting = redis.call('HGET', KEYS[3], key)
  for i = 7, #ARGV do
    if ARGV[i] == waiting then coalesced = false end
  end
end
local limit = tonumber(ARGV[6])
if not coalesced and limit > 0 and redis.call('XLEN', KEYS[4]) >= limit then
  return {'full', ''}
end
redis.call('SET', KEYS[1], value)
redis.call('HSET', KEYS[2], key, value)
if coalesced then
  return {'coalesced', redis.call('HGET', KEYS[3], key)}
end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[4], id, 'key', key, 'at', ARGV[4])
else
  redis.call('XADD', KEYS[4], id, 'key', key, 'value', value, 'at', ARGV[4])
end
redis.call('HSET', KEYS[3], key, id)
return {'queued', id}
