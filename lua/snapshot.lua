-- snapshot: every SKU's stock at one instant (read-only; one script, so no change
-- interleaves). Reply: {sku, available, reserved, sold, total, sku, ...} as strings.

local reply = {}
for _, sku in ipairs(redis.call('SMEMBERS', PREFIX .. 'skus')) do
  local stock = redis.call('HMGET', PREFIX .. 'sku:' .. sku, 'available', 'reserved', 'sold', 'total')
  reply[#reply + 1] = sku
  for field = 1, 4 do
    reply[#reply + 1] = stock[field] or ''
  end
end
return reply
