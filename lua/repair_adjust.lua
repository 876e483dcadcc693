-- repair_adjust: records in the ledger a stock correction the reconciler found, without
-- changing the SKU hash. Used by `stockproof reconcile --repair` when Redis's available
-- and total differ from the ledger's replay by the same delta (units appeared or
-- vanished in Redis without an event): Redis, the live stock every decision was made
-- against, is kept, and an `adjust` event with that delta makes the ledger account for
-- it. Guarded: only if the hash still holds the values the reconciler saw.
--
-- KEYS[1] sku hash, KEYS[2] seq counter, KEYS[3] ledger stream
-- ARGV[1] sku id, ARGV[2] expected available, ARGV[3] expected total, ARGV[4] delta
-- Reply: {1, seq} when recorded, {0, 0} when the hash changed meanwhile.

local stock = redis.call('HMGET', KEYS[1], 'available', 'total')
if stock[1] ~= ARGV[2] or stock[2] ~= ARGV[3] then
  return {0, 0}
end
local delta = tonumber(ARGV[4])
if delta == nil or delta == 0 or delta ~= math.floor(delta) then
  return redis.error_reply('ERR delta must be a non-zero integer, got ' .. tostring(ARGV[4]))
end
local time = redis.call('TIME')
local at_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], '*',
  'seq', tostring(seq), 'kind', 'adjust', 'sku', ARGV[1], 'qty', ARGV[4],
  'resv', '', 'key', '', 'deadline_ms', '0', 'at_ms', string.format('%d', at_ms))
return {1, seq}
