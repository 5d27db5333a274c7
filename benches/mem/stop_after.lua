-- wrk script: POST the small OpenAI chat completion of post.lua (model MODEL,
-- stream STREAM: env, default gpt-bench and false) and stop the
-- thread after REQUESTS responses (env, default 1000000), then create the file
-- DONE_FILE (env). wrk itself only ends at -d, so churn.sh watches for that
-- file and sends SIGINT, on which wrk prints its summary with the exact count.
-- Run with -t1 so the count is per run.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"' .. (os.getenv("MODEL") or "gpt-bench") ..
  '","messages":[{"role":"user","content":"Say hello in one short sentence."}],"stream":' ..
  (os.getenv("STREAM") or "false") .. '}'

local limit = tonumber(os.getenv("REQUESTS") or "1000000")
local done = 0

function response(status, headers, body)
  done = done + 1
  if done == limit then
    wrk.thread:stop()
    local f = io.open(os.getenv("DONE_FILE") or "/dev/null", "w")
    if f then f:close() end
  end
end
