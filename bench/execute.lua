-- wrk script: POST /control/execute with a fresh task id per request.
--   wrk ... -s execute.lua http://host:port -- [Method] [id-prefix|-] [path]
-- Method defaults to Noop. With id-prefix "-" no task_id is sent (the service makes one).
-- path defaults to /control/execute.
-- Ids are <prefix>-<thread>-<counter>, so several runs against one service never collide.

local counter = 0
local threads = 0
local method = "Noop"
local prefix = nil
local path = "/control/execute"
local headers = { ["Content-Type"] = "application/json" }

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

function init(args)
   method = args[1] or "Noop"
   prefix = args[2] or tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
   if prefix == "-" then prefix = nil end
   path = args[3] or path
end

function request()
   counter = counter + 1
   local body
   if prefix then
      body = string.format('{"method":"%s","task_id":"%s-%d-%d","parameters":{}}', method, prefix, tid, counter)
   else
      body = string.format('{"method":"%s","parameters":{}}', method)
   end
   return wrk.format("POST", path, headers, body)
end
