#!/usr/bin/env python3
"""An edge on loopback for the `dropgen deploy --prewarm` tests: answers every GET with 200
and `cf-cache-status: MISS` the first time a path is asked for, `HIT` after, and records each
request's path, `Accept` and `Accept-Encoding`.

Prints `READY <base URL>`, then reads one command a line from stdin, answering on stdout and
ending each answer with `END`:

    requests    every request so far, one JSON object a line, in arrival order
    quit        stop
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
REQUESTS = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        with LOCK:
            seen = any(request["path"] == self.path for request in REQUESTS)
            REQUESTS.append({"path": self.path, "accept": self.headers.get("Accept"),
                             "accept_encoding": self.headers.get("Accept-Encoding")})
        body = b"warm"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("cf-cache-status", "HIT" if seen else "MISS")
        self.end_headers()
        self.wfile.write(body)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "requests":
            with LOCK:
                for request in REQUESTS:
                    print(json.dumps(request))
        elif command == "quit":
            break
        print("END", flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
