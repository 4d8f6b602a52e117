-- wrk script for scripts/loadtest/run.sh: POST collect beacons the way the
-- loader sends them (text/plain body, Origin, consent cookie), each with a
-- unique event id (so every one is deduplicated AND enqueued), one purchase
-- every 20 beacons, the rest page_view.
--
-- Environment: PGW_HOST (Host header), PGW_PATH (collect path), PGW_ORIGIN,
-- PGW_COOKIE (Cookie header: jaraba_consent + jaraba_visitor_id).

local threads = {}
local tid_seed = os.time()

function setup(thread)
  tid_seed = tid_seed + 1
  math.randomseed(tid_seed * 7919)
  thread:set("tid", math.random(0, 0x7fffffff))
  table.insert(threads, thread)
end

local counter = 0
local url, prefix

function init(args)
  url = "http://" .. string.gsub(os.getenv("PGW_ORIGIN"), "^https?://", "") .. "/p"
  -- Everything before the body but the Content-Length value, built once:
  -- wrk.format would rebuild the headers for every request (the
  -- generator's CPU is taken from the server under test on this machine).
  prefix = "POST " .. os.getenv("PGW_PATH") .. " HTTP/1.1\r\n" ..
    "Host: " .. os.getenv("PGW_HOST") .. "\r\n" ..
    "Origin: " .. os.getenv("PGW_ORIGIN") .. "\r\n" ..
    "Content-Type: text/plain;charset=UTF-8\r\n" ..
    "Cookie: " .. os.getenv("PGW_COOKIE") .. "\r\n" ..
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" ..
    "Content-Length: "
end

function request()
  counter = counter + 1
  local id = string.format("%08x-0000-4000-8000-%012x", tid, counter)
  local ts = os.time() * 1000
  local body
  if counter % 20 == 0 then
    body = '{"v":1,"events":[{"name":"purchase","id":"' .. id .. '","ts":' .. ts .. ',"url":"' .. url ..
      '","props":{"value":49.9,"currency":"EUR","transaction_id":"T' .. counter .. '"},"user":{"em":"jane@example.com"}}],' ..
      '"ids":{"fbp":"fb.1.1732880000000.1116446470"}}'
  else
    body = '{"v":1,"events":[{"name":"page_view","id":"' .. id .. '","ts":' .. ts .. ',"url":"' .. url ..
      '"}],"ids":{"fbp":"fb.1.1732880000000.1116446470"}}'
  end
  return prefix .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("WRK requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
