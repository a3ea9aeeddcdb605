-- wrk script: POST multipart comments with one JPEG each (bench/run.py writes the file), to a
-- thread of their own. Every request is a new comment (new words; the picture is the same, so
-- the store keeps one object, rewritten by every upload), from one of 64 clients per wrk
-- thread, named in X-Forwarded-For as in post.lua.
local counter = 0
local threads = 0
local run = "0"
local image = ""
local boundary = "benchboundary7d3f"

function init(args)
  run = args[1] or run
  local file = assert(io.open(args[2], "rb"))
  image = file:read("*a")
  file:close()
end

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local function field(name, value)
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name .. "\"\r\n\r\n" .. value .. "\r\n"
end

function request()
  counter = counter + 1
  local body = field("thread", "bench-image") .. field("name", "Bench")
    .. field("comment", string.format("A benchmark comment with a picture. %s-%d-%d", run, id, counter))
    .. "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"bench.jpg\"\r\n"
    .. "Content-Type: image/jpeg\r\n\r\n" .. image .. "\r\n--" .. boundary .. "--\r\n"
  local headers = {
    ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
    ["X-Forwarded-For"] = string.format("198.19.%d.%d", id, counter % 64),
  }
  return wrk.format("POST", nil, headers, body)
end
