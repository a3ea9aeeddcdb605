-- wrk script: POST a JSON comment (to a thread of its own, so listings stay the same size).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"thread": "bench-post", "name": "Bench", "comment": "A benchmark comment, about as long as a short real one."}'
