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
local path, url

function init(args)
  path = os.getenv("PGW_PATH")
  url = "http://" .. string.gsub(os.getenv("PGW_ORIGIN"), "^https?://", "") .. "/p"
  wrk.method = "POST"
  wrk.headers["Host"] = os.getenv("PGW_HOST")
  wrk.headers["Origin"] = os.getenv("PGW_ORIGIN")
  wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
  wrk.headers["Cookie"] = os.getenv("PGW_COOKIE")
  wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
end

function request()
  counter = counter + 1
  local id = string.format("%08x-0000-4000-8000-%012x", tid, counter)
  local ts = os.time() * 1000
  local ev
  if counter % 20 == 0 then
    ev = '{"name":"purchase","id":"' .. id .. '","ts":' .. ts .. ',"url":"' .. url ..
      '","props":{"value":49.9,"currency":"EUR","transaction_id":"T' .. counter .. '"},"user":{"em":"jane@example.com"}}'
  else
    ev = '{"name":"page_view","id":"' .. id .. '","ts":' .. ts .. ',"url":"' .. url .. '"}'
  end
  return wrk.format(nil, path, nil, '{"v":1,"events":[' .. ev .. '],"ids":{"fbp":"fb.1.1732880000000.1116446470"}}')
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("WRK requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
