-- One wrk script for every scenario; the bench sets it up through environment variables:
--   BENCH_METHOD, BENCH_PATHS_FILE (one path per line, used round-robin) or BENCH_PATH,
--   BENCH_COOKIE, BENCH_HEADER ("Name: value", several joined by "|"), BENCH_BODY (may hold {KEY}: a fresh random
--   22-character key per request, e.g. the console form's create_key), BENCH_EXPECT (the
--   status every answer must have, default 200: a redirect to the sign-in page is not a page),
--   BENCH_ONCE (set: each thread takes its own share of the paths file and sends every path
--   once, for a first visit, which can only happen once; a path sent again because the share
--   ran out before the time did is counted in "repeated", and the run is not a measurement).
local method = os.getenv("BENCH_METHOD") or "GET"
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local threads = {}
unexpected = 0
local body_template = os.getenv("BENCH_BODY")
local paths, index = {}, 0
local counter = 0
local once = os.getenv("BENCH_ONCE") ~= nil
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")  -- wrk's -t, for BENCH_ONCE
repeated = 0
local sent = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  threads[#threads + 1] = thread
end

function init(args)
  local file = os.getenv("BENCH_PATHS_FILE")
  local line_number = 0
  if file then
    for line in io.lines(file) do
      line_number = line_number + 1
      -- BENCH_ONCE: thread k of n keeps lines k, k + n, k + 2n, ...
      if not once or (line_number - 1) % thread_count + 1 == id then paths[#paths + 1] = line end
    end
  else
    paths[1] = os.getenv("BENCH_PATH") or "/"
  end
  index = once and 0 or math.random(#paths)
  math.randomseed(os.time() + (id or 0) * 7919)
  wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
  -- BENCH_HEADER: one "Name: value", or several joined by "|".
  for extra in (os.getenv("BENCH_HEADER") or ""):gmatch("[^|]+") do
    local name, value = extra:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
  if body_template then
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function key()
  local out = {}
  for i = 1, 22 do
    local n = math.random(#alphabet)
    out[i] = alphabet:sub(n, n)
  end
  return table.concat(out)
end

function request()
  sent = sent + 1
  if once and sent > #paths then repeated = repeated + 1 end
  index = index % #paths + 1
  local body = nil
  if body_template then body = body_template:gsub("{KEY}", key()) end
  return wrk.format(method, paths[index], nil, body)
end

function response(status, headers, body)
  if status ~= expect then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  local wrong, again = 0, 0
  for _, thread in ipairs(threads) do
    wrong = wrong + thread:get("unexpected")
    again = again + thread:get("repeated")
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "socket_errors": %d, "status_errors": %d, ' ..
    '"unexpected_status": %d, "repeated": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, wrong, again,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
