-- wrk script: an OpenAI chat request for a model served by a Claude upstream (translated both ways).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"gpt-bench-claude","messages":[{"role":"user","content":"Say hello in one short sentence."}],"stream":false}'
