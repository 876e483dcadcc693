-- Shared part of every stockproof script. engine/src/lua.rs assembles each script as:
-- the bound constants (from engine/src/limits.rs and the engine's retention), this file,
-- then the operation's own file. Calling convention of every script:
--   KEYS[1] = `sp:{shop}:seq` (declares the shop's hash tag, so a cluster routes it)
--   ARGV[1] = `sp:{shop}:`    (the key prefix every other key is built from)
-- Replies are arrays: a status code, then fields; never free text. Each script checks
-- every argument and every refusal before its first write, because a script that fails
-- half-way keeps the writes it already made (Lua scripts have no rollback).
--
-- Cost: Redis 7.0 turns every Lua number handed to redis.call into text with
-- snprintf("%.17g"), about 3,000 instructions each, more than most of the commands it
-- calls (measured: 10 such numbers were 15% of a reserve). So the scripts hand
-- redis.call text: an integer becomes text once, with int_text, and text taken from the
-- arguments or from stored values is passed on as it is. Replies keep their numbers.

local PREFIX = ARGV[1]
local SEQ_KEY = KEYS[1]
local LEDGER_KEY = PREFIX .. 'ledger'
local DEADLINES_KEY = PREFIX .. 'deadlines'

-- The decimal text of an integer-valued number, the same digits "%.17g" gives for
-- every integer below 2^53, at less than half its cost.
local function int_text(value)
  return string.format('%d', value)
end

-- The Redis server's clock in ms: the only clock the engine trusts.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- An integer argument within [min, max], or nil. Plain decimal digits only (no
-- exponent, hex or fraction); 17 characters keep it inside Lua's exact integers.
local function int_arg(text, min, max)
  if type(text) ~= 'string' or #text > 17 or not string.find(text, '^%-?%d+$') then
    return nil
  end
  local value = tonumber(text)
  if value < min or value > max then
    return nil
  end
  return value
end

-- SKU ids: 1..SKU_ID_BYTES_MAX bytes of [A-Za-z0-9._:-] (no spaces: `items` lists are
-- space-separated).
local function valid_sku(sku)
  return type(sku) == 'string' and #sku >= 1 and #sku <= SKU_ID_BYTES_MAX
    and string.find(sku, '^[%w%._:%-]+$') ~= nil
end

-- Appends one ledger event numbered `seq_text` (from INCR seq, taken by the caller).
-- Every field is text (see Cost above).
local function append_event_numbered(seq_text, kind, sku, qty_text, resv, key, deadline_text,
    at_text)
  redis.call('XADD', LEDGER_KEY, '*', 'seq', seq_text, 'kind', kind, 'sku', sku,
    'qty', qty_text, 'resv', resv, 'key', key, 'deadline_ms', deadline_text, 'at_ms', at_text)
end

local function append_event(kind, sku, qty_text, resv, key, deadline_text, at_text)
  append_event_numbered(int_text(redis.call('INCR', SEQ_KEY)), kind, sku, qty_text, resv, key,
    deadline_text, at_text)
end

-- Moves a Held reservation to a terminal state: each SKU's units, one ledger event per
-- SKU, the new state, and retention (the reservation and its idempotency key are kept
-- for RETENTION_MS from now, then Redis drops them). `kind` is the event kind:
-- confirm (units become sold), release or expire (units become available again).
-- `items` is the reservation's stored text (`sku qty ...`, quantities written by
-- int_text), so its quantities go to redis.call as they are; `at_text` is the time.
local function terminate(id, resv_key, items, idem, state, kind, at_text)
  local back_to = 'available'
  if kind == 'confirm' then
    back_to = 'sold'
  end
  for sku, qty_text in string.gmatch(items, '(%S+) (%S+)') do
    local sku_key = PREFIX .. 'sku:' .. sku
    redis.call('HINCRBY', sku_key, 'reserved', '-' .. qty_text)
    redis.call('HINCRBY', sku_key, back_to, qty_text)
    append_event(kind, sku, qty_text, id, '', '0', at_text)
  end
  redis.call('HSET', resv_key, 'state', state, 'ended', at_text)
  redis.call('PEXPIRE', resv_key, RETENTION_MS_TEXT)
  redis.call('ZREM', DEADLINES_KEY, id)
  local idem_key = PREFIX .. 'idem:' .. idem
  if redis.call('GET', idem_key) == id then
    redis.call('PEXPIRE', idem_key, RETENTION_MS)
  end
end
