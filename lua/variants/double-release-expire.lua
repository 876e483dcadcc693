  -- VARIANT double-release (replaces the state check of expire.lua): the sweeper
  -- trusts its deadline index and ends whatever is listed there, confirmed or not.
  if resv[1] then
