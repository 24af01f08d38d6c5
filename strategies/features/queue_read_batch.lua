-- The flusher reads the oldest batch.
-- KEYS: the queue, the pending values, the pending entry ids. ARGV: how many entries.
-- The oldest entries, each as {id, key, value, newer}. A key's newest entry carries the newest value, which
-- waits in the pending index (a coalesced write replaces it there, not in the stream). A coalesced entry the
-- pending index no longer points at has been superseded: a write that came while a flush held it was queued
-- afresh, with a newer value. It carries no value (false) and names the entry that does (`newer`).
local batch = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])) do
  local fields = {}
  for i = 1, #entry[2], 2 do fields[entry[2][i]] = entry[2][i + 1] end
  local key, value = fields['key'], fields['value']
  local waiting = redis.call('HGET', KEYS[3], key)
  if waiting == entry[1] then value = redis.call('HGET', KEYS[2], key) end
  table.insert(batch, {entry[1], key, value or false, waiting or false})
end
return batch
