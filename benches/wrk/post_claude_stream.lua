-- wrk script: an Anthropic Messages request for the Claude-upstream model (same format: pass-through), streamed.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "sk-bench"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = '{"model":"gpt-bench-claude","max_tokens":256,"messages":[{"role":"user","content":"Say hello in one short sentence."}],"stream":true}'
