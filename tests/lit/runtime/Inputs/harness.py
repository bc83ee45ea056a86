"""Shared by the deployd end-to-end drivers: bounded commands, status
parsing, and clean-up of every process the tests started."""
import json
import os
import pathlib
import signal
import subprocess
import sys
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
        self.daemons = []  # background `deployd run`s, stopped by cleanup()

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

    def cli(self, *args, check=True):
        extra = ["--plan", self.plan] if args[0] in ("release", "rollback", "resume", "resource", "history") \
            and "--plan" not in args else []
        return self.sh(self.deployd, *args, "--state", self.state, *extra, check=check)

    def run(self, *extra, env=None, check=True):
        """`deployd run --until-idle`; returns the completed process."""
        return self.sh(self.deployd, "run", "--plan", self.plan, "--state", self.state, "--tick", "100ms",
                       "--until-idle", *extra, env=env, check=check)

    def start(self, *extra, env=None):
        """A long-running `deployd run` in the background (its log in work/)."""
        log = open(self.work / "deployd.log", "a")
        d = subprocess.Popen([self.deployd, "run", "--plan", self.plan, "--state", self.state,
                              "--tick", "100ms", *extra], stdout=log, stderr=subprocess.STDOUT,
                             env=dict(os.environ, **(env or {})))
        self.daemons.append(d)
        return d

    def status(self):
        """unit -> dict(release, desired, actual, state, waiting)."""
        rows = {}
        out = self.cli("status", "--plan", self.plan).stdout
        for line in out.splitlines()[1:]:
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
        for pidfile in self.work.rglob("*.pid"):
            try:
                pid = int(pidfile.read_text().split()[0])
                os.kill(pid, signal.SIGTERM)
            except (ValueError, IndexError, ProcessLookupError, PermissionError, FileNotFoundError):
                pass
