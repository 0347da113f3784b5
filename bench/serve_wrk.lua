-- wrk script for bench/serve.py: every request carries the next of a list of valid tokens
-- (one per line in the file given as the first script argument), so no two requests in a
-- row share a token and the service's token cache is not what is measured.
-- An optional second argument paces every connection: it waits that many milliseconds after
-- each response before its next request (wrk's delay()), to measure latency at a set load
-- instead of at saturation.
-- done() prints one JSON line with throughput, errors and latency percentiles.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local tokens = {}
local idx = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  -- each thread starts at its own place in the list
  idx = math.floor((#tokens / 16) * ((id or 1) - 1)) % #tokens
  local pause = tonumber(args[2] or "")
  if pause and pause > 0 then
    delay = function() return pause end
  end
end

function request()
  idx = idx + 1
  if idx > #tokens then idx = 1 end
  return wrk.format("GET", "/api/v1/proof", {["Authorization"] = "Bearer " .. tokens[idx]})
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors_status":%d,' ..
    '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
