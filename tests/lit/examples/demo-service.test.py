"""Driver for demo-service.test: starts the server on free loopback ports."""
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

server = sys.argv[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, path: str, method: str = "GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()


def start(version: str, *extra: str) -> tuple:
    port = free_port()
    env = dict(os.environ, DEMO_FAILING_VERSIONS="v3@staging")
    proc = subprocess.Popen([sys.executable, server, "--port", str(port), "--version", version, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    proc.stdout.readline()  # "listening on ..."
    for _ in range(50):
        try:
            request(port, "/version")
            break
        except OSError:
            time.sleep(0.1)
    return proc, port


good, port = start("v1")
bad, bad_port = start("v2-bad")
dev, dev_port = start("v3", "--env", "dev")
staging, staging_port = start("v3", "--env", "staging")
try:
    print("healthz", *request(port, "/healthz"))
    print("version", *request(port, "/version"))
    request(port, "/fail", "POST")
    print("after fail", *request(port, "/healthz"))
    print("bad healthz", *request(bad_port, "/healthz"))
    print("v3 in dev", *request(dev_port, "/healthz"))
    print("v3 in staging", *request(staging_port, "/healthz"))
finally:
    for p in (good, bad, dev, staging):
        p.terminate()
        p.wait(timeout=5)
