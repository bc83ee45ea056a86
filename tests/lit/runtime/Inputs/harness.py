"""Shared by the deployd end-to-end drivers: bounded commands, status
parsing, and clean-up of every process the tests started."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


class Harness:
    @staticmethod
    def from_argv():
        """(harness, demo server path) from a driver's arguments:
        DEPLOYC DEPLOYD WORKDIR SERVER."""
        deployc, deployd, work, server = sys.argv[1:5]
        return Harness(deployc, deployd, work), server

    def __init__(self, deployc, deployd, work):
        self.deployc, self.deployd = deployc, deployd
        self.work = pathlib.Path(work)
        self.state = str(self.work / "st.db")
        self.plan = str(self.work / "plan.json")
        # A short socket path: a Unix socket's path is limited to 107 bytes.
        self.sockdir = tempfile.mkdtemp(prefix="dpl", dir="/tmp")
        self.socket = os.path.join(self.sockdir, "d.sock")
        self.daemons = []  # background `deployd run`s, stopped by cleanup()
        self.tokens = {}   # identity -> API token (the test plays its people with tokens)
        self.runs = 0

    def sh(self, *args, check=True, env=None, timeout=120):
        r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
        if check and r.returncode != 0:
            print(f"FAILED {' '.join(args)} exit {r.returncode}\n{r.stdout}{r.stderr}")
            sys.exit(1)
        return r

    def compile(self, policy_text, plan=None):
        d = self.work / "policy"
        d.mkdir(parents=True, exist_ok=True)
        (d / "main.dpl").write_text(policy_text.replace("@WORK@", str(self.work)))
        self.sh(self.deployc, "compile", str(d), "-o", plan or self.plan)

    def token(self, who):
        """An API token for `who`, created by the admin (this test's user)."""
        if who not in self.tokens:
            r = self.sh(self.deployd, "token", "create", who, "--state", self.state, "--socket", self.socket)
            self.tokens[who] = r.stdout.strip()
        return self.tokens[who]

    def cli(self, *args, check=True):
        """A deployd command; `--as WHO` becomes WHO's token (identity never
        comes from a flag), a `--plan` for the daemon's commands is dropped."""
        args, env = list(args), {}
        if "--as" in args:
            i = args.index("--as")
            env["DEPLOYD_TOKEN"] = self.token(args[i + 1])
            del args[i:i + 2]
        if args[0] not in ("status", "down") and "--plan" in args:
            i = args.index("--plan")
            del args[i:i + 2]
        return self.sh(self.deployd, *args, "--state", self.state, "--socket", self.socket, check=check, env=env)

    def start(self, *extra, env=None):
        """A `deployd run` in the background, once its socket answers."""
        self.runs += 1
        out = open(self.work / f"deployd-{self.runs}.log", "w")
        err = open(self.work / f"deployd-{self.runs}.err", "w")
        d = subprocess.Popen([self.deployd, "run", "--plan", self.plan, "--state", self.state, "--socket", self.socket,
                              "--tick", "100ms", *extra], stdout=out, stderr=err,
                             env=dict(os.environ, **(env or {})))
        d.logs = (self.work / f"deployd-{self.runs}.log", self.work / f"deployd-{self.runs}.err")
        self.daemons.append(d)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and d.poll() is None:
            if self.sh(self.deployd, "status", "--state", self.state, "--socket", self.socket,
                       check=False).stdout.startswith("UNIT"):
                break
            time.sleep(0.05)
        return d

    def stop(self, d):
        """SIGTERM, then the daemon's output as a completed process."""
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
        d.wait(timeout=60)
        return subprocess.CompletedProcess(d.args, d.returncode, d.logs[0].read_text(), d.logs[1].read_text())

    def run(self, *extra, env=None, check=True, before=()):
        """What `deployd run --until-idle` did before the control API: a daemon
        that takes the commands in `before` (tuples of CLI arguments), runs
        until it is idle, and stops. Returns the completed process."""
        d = self.start(*extra, env=env)
        for cmd in before:
            if d.poll() is not None:
                break
            self.cli(*cmd)
        while d.poll() is None:
            r = self.sh(self.deployd, "wait", "--idle", "--timeout", "120s", "--socket", self.socket, check=False)
            if r.returncode == 0 or d.poll() is not None:
                break
            print(f"FAILED deployd wait --idle: {r.stderr}")
            sys.exit(1)
        r = self.stop(d)
        if check and r.returncode != 0:
            print(f"FAILED deployd run exit {r.returncode}\n{r.stdout}{r.stderr}")
            sys.exit(1)
        return r

    def status(self):
        """unit -> dict(release, desired, actual, state, waiting)."""
        rows = {}
        out = self.cli("status", "--plan", self.plan).stdout
        lines = out.splitlines()
        while lines and not lines[0].startswith("UNIT"):
            lines.pop(0)  # "deployd is not running …"
        for line in lines[1:]:
            parts = line.split()
            if len(parts) < 5:
                continue
            unit, release, desired, actual = parts[:4]
            rest = parts[4:]
            if rest and rest[0] in ("starting", "unhealthy"):
                actual += " " + rest.pop(0)
            rows[unit] = dict(release=release, desired=desired, actual=actual, state=rest[0] if rest else "",
                              waiting=" ".join(rest[2:]))
        return rows

    def wait_for(self, what, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.status()
            if predicate(rows):
                return rows
            time.sleep(0.2)
        print(f"TIMEOUT waiting for {what}\n" + self.cli("status", "--plan", self.plan).stdout)
        sys.exit(1)

    def history(self, unit=""):
        lines = self.cli("history", *([unit] if unit else [])).stdout.splitlines()
        return [l.split("  ", 1)[1] for l in lines]

    def served(self, workdir, service):
        st = json.loads((pathlib.Path(workdir) / service / "state.json").read_text())
        inst = [i for i in st["instances"] if i["version"] == st["current"]][0]
        with urllib.request.urlopen(f"http://127.0.0.1:{inst['replicas'][0]['port']}/version", timeout=3) as r:
            return r.read().decode().strip()

    def cleanup(self):
        """Stops every replica any test started (pid files are written by the
        replicas themselves, so none is missed), and any `deployd run` a test
        left running because it stopped early."""
        for d in self.daemons:
            if d.poll() is None:
                d.kill()
                d.wait(timeout=30)
        shutil.rmtree(self.sockdir, ignore_errors=True)
        for pidfile in self.work.rglob("*.pid"):
            try:
                pid = int(pidfile.read_text().split()[0])
                os.kill(pid, signal.SIGTERM)
            except (ValueError, IndexError, ProcessLookupError, PermissionError, FileNotFoundError):
                pass
