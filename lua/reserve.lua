-- reserve: holds every line of a cart or none, idempotent on the key.
-- ARGV[2] idempotency key, ARGV[3] ttl_ms, ARGV[4] line count n, then n pairs sku qty.
-- Replies:
--   {'reserved', id, deadline_ms}               a new Held reservation
--   {'replayed', id, state, deadline_ms}        the key's reservation, same items
--   {'key_reused', id}                          the key's reservation has other items
--   {'insufficient', sku, requested, available} nothing written
--   {'unknown_sku', sku}                        nothing written
--   {'invalid', field, reason}                  nothing written

local key = ARGV[2]
if type(key) ~= 'string' or #key < 1 or #key > IDEMPOTENCY_KEY_BYTES_MAX
    or string.find(key, '[^\33-\126]') then
  return {'invalid', 'idempotency_key', 'format'}
end
local ttl_ms = int_arg(ARGV[3], TTL_MS_MIN, TTL_MS_MAX)
if ttl_ms == nil then
  return {'invalid', 'ttl_ms', 'range'}
end
local count = int_arg(ARGV[4], 1, CART_LINES_MAX)
if count == nil or #ARGV ~= 4 + 2 * count then
  return {'invalid', 'items', 'count'}
end

-- Merge lines naming one SKU before any check, so no line is checked against a count
-- another line of the same cart is about to change.
local merged = {}
local skus = {}
for line = 1, count do
  local sku = ARGV[3 + 2 * line]
  local qty = int_arg(ARGV[4 + 2 * line], 1, LINE_QTY_MAX)
  if not valid_sku(sku) then
    return {'invalid', 'sku', 'format'}
  end
  if qty == nil then
    return {'invalid', 'items.qty', 'range'}
  end
  if merged[sku] == nil then
    merged[sku] = qty
    skus[#skus + 1] = sku
  else
    merged[sku] = merged[sku] + qty
    if merged[sku] > LINE_QTY_MAX then
      return {'invalid', 'items.qty', 'range'}
    end
  end
end
table.sort(skus)
local parts = {}
local qty_texts = {}
for _, sku in ipairs(skus) do
  local qty_text = int_text(merged[sku])
  qty_texts[sku] = qty_text
  parts[#parts + 1] = sku
  parts[#parts + 1] = qty_text
end
local items = table.concat(parts, ' ')

local idem_key = PREFIX .. 'idem:' .. key
local existing = redis.call('GET', idem_key)
if existing then
  local held = redis.call('HMGET', PREFIX .. 'resv:' .. existing, 'state', 'deadline', 'items')
  -- Both expire together (retention after the end), so a missing hash means the
  -- key's reservation is gone and the key is free again.
  if held[1] then
    if held[3] == items then
      return {'replayed', existing, held[1], tonumber(held[2])}
    end
    return {'key_reused', existing}
  end
end

for _, sku in ipairs(skus) do
  local available = redis.call('HGET', PREFIX .. 'sku:' .. sku, 'available')
  if not available then
    return {'unknown_sku', sku}
  end
  available = tonumber(available)
  if available < merged[sku] then
    return {'insufficient', sku, merged[sku], available}
  end
end

-- Every check passed: write. The id is the seq of the reservation's first event.
-- Times and counters go to redis.call as text (common.lua: Cost).
local now_ms_number = now_ms()
local deadline_ms = now_ms_number + ttl_ms
local now, deadline = int_text(now_ms_number), int_text(deadline_ms)
local seq = int_text(redis.call('INCR', SEQ_KEY))
local id = 'r' .. seq
for line, sku in ipairs(skus) do
  if line > 1 then
    seq = int_text(redis.call('INCR', SEQ_KEY))
  end
  local qty_text = qty_texts[sku]
  local sku_key = PREFIX .. 'sku:' .. sku
  redis.call('HINCRBY', sku_key, 'available', '-' .. qty_text)
  redis.call('HINCRBY', sku_key, 'reserved', qty_text)
  append_event_numbered(seq, 'reserve', sku, qty_text, id, key, deadline, now)
end
redis.call('HSET', PREFIX .. 'resv:' .. id, 'key', key, 'state', 'held',
  'deadline', deadline, 'items', items, 'created', now)
redis.call('ZADD', DEADLINES_KEY, deadline, id)
redis.call('SET', idem_key, id, 'PX', ttl_ms + RETENTION_MS)
return {'reserved', id, deadline_ms}
