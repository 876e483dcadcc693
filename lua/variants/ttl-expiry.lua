-- VARIANT ttl-expiry (replaces the deadline index write of reserve.lua): the
-- reservation is a key with a Redis TTL and no sweeper entry; when Redis drops the key
-- nothing gives its units back, so they stay `reserved` for ever.
redis.call('PEXPIRE', PREFIX .. 'resv:' .. id, ttl_ms)
