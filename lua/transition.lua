-- confirm / release: Held → TARGET_STATE (set by engine/src/lua.rs: `confirmed` with
-- event kind `confirm`, or `released` with `release`). A Held reservation whose
-- deadline has passed on the Redis clock expires here instead: the deadline wins, and
-- the caller learns it.
-- ARGV[2] reservation id. Replies:
--   {'applied', state, deadline_ms, items, key}  Held → TARGET_STATE now
--   {'already', state, deadline_ms, items, key}  already TARGET_STATE (a retry); no write
--   {'not_held', state}                          another state won; no write, except
--                                                the expiry of an overdue reservation
--   {'unknown'}                                  no such reservation; no write

local id = ARGV[2]
if type(id) ~= 'string' or #id > RESERVATION_ID_BYTES_MAX or not string.find(id, '^r%d+$') then
  return {'unknown'}
end
local resv_key = PREFIX .. 'resv:' .. id
local resv = redis.call('HMGET', resv_key, 'state', 'deadline', 'items', 'key')
local state = resv[1]
if not state then
  return {'unknown'}
end
local deadline = tonumber(resv[2])
if state == TARGET_STATE then
  return {'already', state, deadline, resv[3], resv[4]}
end
if state ~= 'held' then
  return {'not_held', state}
end
local now = now_ms()
if deadline <= now then
  terminate(id, resv_key, resv[3], resv[4], 'expired', 'expire', int_text(now))
  return {'not_held', 'expired'}
end
terminate(id, resv_key, resv[3], resv[4], TARGET_STATE, EVENT_KIND, int_text(now))
return {'applied', TARGET_STATE, deadline, resv[3], resv[4]}
