-- VARIANT stale-cart-lines (replaces the stock check of reserve.lua): each line is
-- checked on its own against the count read before any line is applied, so two lines
-- naming one SKU both pass against units only one of them can have.
for line = 1, count do
  local sku = ARGV[3 + 2 * line]
  local qty = tonumber(ARGV[4 + 2 * line])
  local available = redis.call('HGET', PREFIX .. 'sku:' .. sku, 'available')
  if not available then
    return {'unknown_sku', sku}
  end
  available = tonumber(available)
  if available < qty then
    return {'insufficient', sku, qty, available}
  end
end
