#!/usr/bin/env python3
"""A bounded load test of a running lowbit server on loopback: N concurrent clients, each sending a fixed
number of requests to one endpoint; prints requests per second and latency percentiles as JSON.

  scripts/loadtest.py http://127.0.0.1:8080 GET /api/checkpoints/ID/tensors --clients 16 --requests 50
  scripts/loadtest.py http://127.0.0.1:8080 POST /api/analyze --body '{"checkpoint": ...}'

Only loopback addresses are accepted; every loop is bounded by --requests and --timeout.
"""
import argparse, http.client, json, threading, time, urllib.parse

p = argparse.ArgumentParser()
p.add_argument("base"); p.add_argument("method"); p.add_argument("path")
p.add_argument("--body", default=None); p.add_argument("--clients", type=int, default=16)
p.add_argument("--requests", type=int, default=50); p.add_argument("--timeout", type=float, default=120.0)
a = p.parse_args()
u = urllib.parse.urlparse(a.base)
if u.hostname not in ("127.0.0.1", "localhost", "::1"):
    raise SystemExit("loadtest only targets loopback")
lat, errors, lock = [], [0], threading.Lock()
deadline = time.monotonic() + a.timeout

def client():
    for _ in range(a.requests):
        if time.monotonic() > deadline:
            return
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        t = time.perf_counter()
        body = a.body.encode() if a.body else None
        c.request(a.method, a.path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse(); r.read(); c.close()
        dt = time.perf_counter() - t
        with lock:
            lat.append(dt)
            if r.status != 200:
                errors[0] += 1

start = time.perf_counter()
ts = [threading.Thread(target=client) for _ in range(a.clients)]
[t.start() for t in ts]; [t.join() for t in ts]
wall = time.perf_counter() - start
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1e3
print(json.dumps({"endpoint": f"{a.method} {a.path}", "clients": a.clients, "requests": len(lat), "errors": errors[0],
                  "rps": round(len(lat) / wall, 1), "p50_ms": round(q(0.5), 2), "p99_ms": round(q(0.99), 2), "max_ms": round(lat[-1] * 1e3, 2)}))
