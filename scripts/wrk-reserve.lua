-- wrk script: POST /v1/reservations with a fresh Idempotency-Key per request, so every
-- request is a real reserve (not a replay). Each thread numbers its own keys; the
-- thread id and a per-run nonce keep keys unique across threads and runs.
--
--   wrk -t2 -c64 -d10s -s scripts/wrk-reserve.lua http://127.0.0.1:8080
--
-- Env: WRK_SKU (default bench-1), WRK_QTY (default 1), WRK_TTL_MS (default 1000: the
-- sweeper returns the units, so a long run does not exhaust the stock).

local counter = 0
thread_id = 0
local next_thread_id = 0
local nonce = tostring(os.time())

function setup(thread)
  next_thread_id = next_thread_id + 1
  thread:set("thread_id", next_thread_id)
end

local sku = os.getenv("WRK_SKU") or "bench-1"
local qty = os.getenv("WRK_QTY") or "1"
local ttl_ms = os.getenv("WRK_TTL_MS") or "1000"
local body = string.format('{"items":[{"sku":"%s","qty":%s}],"ttl_ms":%s}', sku, qty, ttl_ms)

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("wrk-%s-%d-%d", nonce, thread_id, counter),
  }
  return wrk.format("POST", "/v1/reservations", headers, body)
end

-- wrk itself prints "Non-2xx or 3xx responses: N" when any reserve was refused
-- (e.g. 409 once the stock is exhausted): restock enough before a run.
function done(summary, latency, requests)
  io.write(string.format("reserve: %d requests, %.0f req/s, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
