-- VARIANT short-idempotency (replaces the marker write of reserve.lua): the key's
-- marker lives a fixed second, shorter than the clients' retry horizon, instead of
-- the reservation's life plus the retention; a retry after that reserves again.
local IDEMPOTENCY_MARKER_TTL_MS = 1000
redis.call('SET', idem_key, id, 'PX', IDEMPOTENCY_MARKER_TTL_MS)
