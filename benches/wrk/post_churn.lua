-- wrk script: like post.lua, for a model whose keys keep hitting 429 (cooldown churn).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-bench-churn","messages":[{"role":"user","content":"Say hello in one short sentence."}],"stream":false}'
