    if held[3] == items then
      -- VARIANT phantom-hold (replaces the replay of reserve.lua): the replay answers
      -- with the key's reservation, as the reference does, but first holds the same
      -- items again under a hidden reservation (same key, same TTL, its own id) that
      -- no reply names: only the sweeper ends it, at its deadline. Like any hold it
      -- needs the units (the books never go negative) and appends its ledger events.
      local enough = true
      for _, sku in ipairs(skus) do
        local available = redis.call('HGET', PREFIX .. 'sku:' .. sku, 'available')
        if not available or tonumber(available) < merged[sku] then
          enough = false
        end
      end
      if enough then
        local hidden_now_ms = now_ms()
        local hidden_now = int_text(hidden_now_ms)
        local hidden_deadline = int_text(hidden_now_ms + ttl_ms)
        local hidden_seq = int_text(redis.call('INCR', SEQ_KEY))
        local hidden = 'r' .. hidden_seq
        for line, sku in ipairs(skus) do
          if line > 1 then
            hidden_seq = int_text(redis.call('INCR', SEQ_KEY))
          end
          local sku_key = PREFIX .. 'sku:' .. sku
          redis.call('HINCRBY', sku_key, 'available', '-' .. qty_texts[sku])
          redis.call('HINCRBY', sku_key, 'reserved', qty_texts[sku])
          append_event_numbered(hidden_seq, 'reserve', sku, qty_texts[sku], hidden, key,
            hidden_deadline, hidden_now)
        end
        redis.call('HSET', PREFIX .. 'resv:' .. hidden, 'key', key, 'state', 'held',
          'deadline', hidden_deadline, 'items', items, 'created', hidden_now)
        redis.call('ZADD', DEADLINES_KEY, hidden_deadline, hidden)
      end
