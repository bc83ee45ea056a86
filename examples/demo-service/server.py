#!/usr/bin/env python3
"""The example organization's demo service: a small HTTP server that
deployd's `process` adapter runs on real ports.

Endpoints:
  GET /healthz   200 "ok" when healthy, 503 when told to fail
  GET /version   the version it was started with
  GET /          a one-line page naming the service and version
  POST /fail     from now on /healthz answers 503 (for rollback demos)

A version can be made to fail from the start: any version ending in "-bad",
and every entry of the environment variable DEMO_FAILING_VERSIONS
(comma-separated), reports unhealthy. An entry is VERSION (fails everywhere)
or VERSION@ENV (fails only when started with `--env ENV`): the README's demo
starts deployd with DEMO_FAILING_VERSIONS=2.0.0@staging, so api 2.0.0 passes
dev and fails its health check in staging. Standard library only.
"""
import argparse
import http.server
import os
import signal
import sys
import threading


def main() -> int:
    parser = argparse.ArgumentParser(description="deployc demo service")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--name", default=os.environ.get("DEMO_SERVICE_NAME", "demo"))
    parser.add_argument("--env", default="", help="the environment it runs in")
    args = parser.parse_args()

    failing = {v.strip() for v in os.environ.get("DEMO_FAILING_VERSIONS", "").split(",") if v.strip()}
    fails = args.version in failing or f"{args.version}@{args.env}" in failing
    state = {"healthy": not fails and not args.version.endswith("-bad")}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, code: int, body: str) -> None:
            data = (body + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/healthz":
                with lock:
                    healthy = state["healthy"]
                self._send(200 if healthy else 503, "ok" if healthy else "failing")
            elif self.path == "/version":
                self._send(200, args.version)
            elif self.path == "/":
                self._send(200, f"{args.name} {args.version}")
            else:
                self._send(404, "not found")

        def do_POST(self) -> None:  # noqa: N802
            if self.path == "/fail":
                with lock:
                    state["healthy"] = False
                self._send(200, "failing from now on")
            else:
                self._send(404, "not found")

        def log_message(self, fmt: str, *values) -> None:
            sys.stderr.write(f"{args.name} {args.version}: {fmt % values}\n")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    where = f" in {args.env}" if args.env else ""
    health = "healthy" if state["healthy"] else "told to fail"
    print(f"{args.name} {args.version}{where} listening on 127.0.0.1:{args.port} ({health})", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
