-- restock: available += qty, total += qty; creates the SKU if new.
-- ARGV[2] sku, ARGV[3] qty. Replies:
--   {'stock', available, reserved, sold, total}
--   {'invalid', field, reason}  nothing written

local sku = ARGV[2]
if not valid_sku(sku) then
  return {'invalid', 'sku', 'format'}
end
local qty = int_arg(ARGV[3], 1, RESTOCK_QTY_MAX)
if qty == nil then
  return {'invalid', 'qty', 'range'}
end
local sku_key = PREFIX .. 'sku:' .. sku
local stock = redis.call('HMGET', sku_key, 'available', 'reserved', 'sold', 'total')
local total = tonumber(stock[4] or '0')
if total + qty > SKU_TOTAL_MAX then
  return {'invalid', 'qty', 'total_max'}
end
if not stock[4] then
  redis.call('HSET', sku_key, 'available', '0', 'reserved', '0', 'sold', '0', 'total', '0')
  redis.call('SADD', PREFIX .. 'skus', sku)
end
local qty_text = int_text(qty)
local available = redis.call('HINCRBY', sku_key, 'available', qty_text)
total = redis.call('HINCRBY', sku_key, 'total', qty_text)
append_event('restock', sku, qty_text, '', '', '0', int_text(now_ms()))
return {'stock', available, tonumber(stock[2] or '0'), tonumber(stock[3] or '0'), total}
