  -- VARIANT check-then-act (replaces the stock check of reserve.lua): the caller read
  -- `available` in an earlier, separate call and decided there; this script decrements
  -- without looking again, so every caller that read the same count gets the units.
  if false then
