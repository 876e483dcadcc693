-- adjust: available += delta, total += delta (delta signed, never 0); refused when
-- available would go below 0 or total above SKU_TOTAL_MAX.
-- ARGV[2] sku, ARGV[3] delta. Replies:
--   {'stock', available, reserved, sold, total}
--   {'refused', available}      nothing written
--   {'unknown_sku'}             nothing written
--   {'invalid', field, reason}  nothing written

local sku = ARGV[2]
if not valid_sku(sku) then
  return {'invalid', 'sku', 'format'}
end
local delta = int_arg(ARGV[3], -RESTOCK_QTY_MAX, RESTOCK_QTY_MAX)
if delta == nil or delta == 0 then
  return {'invalid', 'delta', 'range'}
end
local sku_key = PREFIX .. 'sku:' .. sku
local stock = redis.call('HMGET', sku_key, 'available', 'reserved', 'sold', 'total')
if not stock[4] then
  return {'unknown_sku'}
end
local available = tonumber(stock[1])
if available + delta < 0 or tonumber(stock[4]) + delta > SKU_TOTAL_MAX then
  return {'refused', available}
end
local delta_text = int_text(delta)
available = redis.call('HINCRBY', sku_key, 'available', delta_text)
local total = redis.call('HINCRBY', sku_key, 'total', delta_text)
append_event('adjust', sku, delta_text, '', '', '0', int_text(now_ms()))
return {'stock', available, tonumber(stock[2]), tonumber(stock[3]), total}
