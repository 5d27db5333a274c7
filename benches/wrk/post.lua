-- wrk script: POST a small OpenAI chat completion request with a client key.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-bench","messages":[{"role":"user","content":"Say hello in one short sentence."}],"stream":false}'
