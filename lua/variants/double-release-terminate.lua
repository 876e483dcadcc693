  -- VARIANT double-release (replaces the deadline index removal in common.lua): a
  -- confirm leaves the reservation in the deadline index.
  if kind ~= 'confirm' then
    redis.call('ZREM', DEADLINES_KEY, id)
  end
