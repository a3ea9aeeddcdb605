-- wrk script: POST JSON comments to a thread of their own (so listings stay the same size).
-- Every request is a new comment (the duplicate rule refuses repeats) from one of 64 clients per
-- wrk thread, named in X-Forwarded-For (the service trusts one proxy hop in the benchmark), as
-- when many readers post at once; one client posting 1,000 times a second is an attack.
local counter = 0
local threads = 0
local run = "0"  -- set per wrk run by bench/run.py, so no two runs post the same words

function init(args)
  run = args[1] or run
end

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"thread": "bench-post", "name": "Bench", "comment": "A benchmark comment, about as long as a short real one. %s-%d-%d"}',
    run, id, counter)
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("198.18.%d.%d", id, counter % 64),
  }
  return wrk.format("POST", nil, headers, body)
end
