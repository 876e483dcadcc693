-- expire: moves up to ARGV[2] Held reservations whose deadline passed (Redis clock) to
-- Expired. Atomic, so any number of sweepers may call it at once: each reservation
-- expires exactly once.
-- Replies: {'expired', still_due, id...} or {'invalid', 'limit', 'range'}.

local limit = int_arg(ARGV[2], 1, EXPIRE_BATCH_MAX)
if limit == nil then
  return {'invalid', 'limit', 'range'}
end
local now = int_text(now_ms())
local due = redis.call('ZRANGEBYSCORE', DEADLINES_KEY, '-inf', now, 'LIMIT', '0',
  int_text(limit))
local reply = {'expired', 0}
for _, id in ipairs(due) do
  local resv_key = PREFIX .. 'resv:' .. id
  local resv = redis.call('HMGET', resv_key, 'state', 'items', 'key')
  if resv[1] == 'held' then
    terminate(id, resv_key, resv[2], resv[3], 'expired', 'expire', now)
    reply[#reply + 1] = id
  else
    -- Not Held (only a hand-edited or half-recovered Redis has such an entry): the
    -- deadline means nothing any more.
    redis.call('ZREM', DEADLINES_KEY, id)
  end
end
reply[2] = redis.call('ZCOUNT', DEADLINES_KEY, '-inf', now)
return reply
