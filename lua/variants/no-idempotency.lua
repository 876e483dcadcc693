-- VARIANT no-idempotency (replaces the idempotency lookup of reserve.lua): the key is
-- stored but never consulted, so every retry of a reserve holds the units again.
local existing = false
