#!/usr/bin/env python3
"""The README's main job, after the build (scripts/demo.sh runs it).

Starts `deployd` on the compiled example plan (.deploy/plan.json), releases
1.0.0 of every example service and follows the rollout through
dev -> staging -> (prod-eu | prod-us) on real local processes. It plays the
people the policy asks for: the DB team marks the payments migrations done,
the release managers publish the release notes, and two SREs approve
production. Then it releases api 2.0.0, which fails its health check in
staging: deployd rolls it back there, and production keeps 1.0.0.

The engine runs on a simulated clock (`--clock-start`, a weekday 09:00 UTC,
so production's Mon-Fri 07:00-19:00 UTC window is open, and `--clock-rate`,
so the policy's 2-minute soaks take seconds). Processes, ports, health
checks, smoke tests, approvals and the rollback are all real. Standard
library only; every wait is bounded.
"""
import argparse
import datetime
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request

_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent),
                   help="directory deployd runs in: examples/ is read from it, .deploy/ written in it")
_args.add_argument("--deployd", help="the deployd binary (default: ROOT/build/bin/deployd)")
ARGS = _args.parse_args()
ROOT = pathlib.Path(ARGS.root).resolve()
DEPLOYD = os.path.abspath(ARGS.deployd) if ARGS.deployd else str(ROOT / "build" / "bin" / "deployd")
WORK = ROOT / ".deploy"
PLAN = str(WORK / "plan.json")
STATE = str(WORK / "state.db")
LOG = WORK / "deployd.log"
RATE = 15  # simulated seconds per real second
DEADLINE = 170  # seconds of real time for the whole rollout

SRES = ["@sre-oncall", "@sre-lead"]  # members of group `sre` (examples/acme/org.dpl)
RELEASE_MANAGER = "@bob"  # a member of `release-managers`
CI = "@ci"  # who releases
DB_JOB = "@db-migrations"  # the DB team's migration job
started = time.monotonic()


def say(text=""):
    print(text, flush=True)


TOKENS = {}  # identity -> API token: the demo plays its people with tokens


def deployd(*args, check=True, who=None):
    """A deployd command; as `who` when given (with that person's token),
    else as the user running the demo (deployd's admin)."""
    env = dict(os.environ)
    env.pop("DEPLOYD_TOKEN", None)
    if who:
        if who not in TOKENS:
            TOKENS[who] = deployd("token", "create", who).strip()
        env["DEPLOYD_TOKEN"] = TOKENS[who]
    # Relative to ROOT: the control socket beside the store keeps a short path.
    r = subprocess.run([DEPLOYD, *args, "--state", os.path.relpath(STATE, ROOT)], capture_output=True, text=True,
                       timeout=60,
                       cwd=ROOT, env=env)
    if check and r.returncode != 0:
        sys.exit(f"demo: deployd {' '.join(args)} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def status():
    """Unit -> (release, desired, actual, state, waiting on)."""
    rows = {}
    for line in deployd("status").splitlines()[1:]:
        parts = line.split(None, 6)
        if len(parts) < 6:
            continue
        unit, release, desired, a, *rest = parts
        # ACTUAL is "1.0.0", "1.0.0 starting", "1.0.0 unhealthy", "-" or "disconnected".
        if rest and rest[0] in ("starting", "unhealthy"):
            a += " " + rest.pop(0)
            rest = " ".join(rest).split(None, 2)
        state = rest[0] if rest else ""
        waiting = rest[2] if len(rest) > 2 else ""
        rows[unit] = (release, desired, a, state, waiting)
    return rows


class LogFollower:
    """Prints the deployd log lines a person watching the rollout cares about."""

    KEEP = ("→ applying", "verifying → succeeded", "→ rolling-back", "→ rolled-back", "notify:",
            "test ", "drift", "simulated clock", "applied", "rolled back to")

    def __init__(self):
        self.offset = 0

    def poll(self):
        if not LOG.exists():
            return
        with open(LOG, encoding="utf-8", errors="replace") as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        for line in text.splitlines():
            if any(k in line for k in self.KEEP):
                say("  " + line)


def next_weekday_nine():
    day = datetime.datetime.now(datetime.timezone.utc).date()
    while day.weekday() >= 5:  # Saturday, Sunday
        day += datetime.timedelta(days=1)
    return f"{day.isoformat()}T09:00:00Z"


def act_on_waits(rows, done):
    """Plays the people: approvals, migrations, release notes."""
    for unit, (release, desired, actual, state, waiting) in rows.items():
        if waiting.startswith("approval by sre"):
            have, need = (int(x) for x in waiting.rsplit(" ", 1)[1].split("/"))
            for who in SRES[: need]:
                if (unit, release, who) not in done:
                    done.add((unit, release, who))
                    say(f"  -- {who} approves {unit}: {deployd('approve', unit, who=who).strip()}")
        elif waiting.startswith("waiting for resource "):
            name = waiting[len("waiting for resource "):]
            if name not in done:
                done.add(name)
                if name.startswith("payments-db-migration"):
                    who, person = "the DB team's migration job marks", DB_JOB
                else:
                    who, person = "the release managers mark", RELEASE_MANAGER
                say(f"  -- {who} {name} ready: {deployd('resource', name, 'ready', who=person).strip()}")


def follow(until, what, follower, done):
    while True:
        follower.poll()
        rows = status()
        if until(rows):
            follower.poll()
            return rows
        act_on_waits(rows, done)
        if time.monotonic() - started > DEADLINE:
            say(f"demo: gave up waiting for {what} after {DEADLINE} s; last status:")
            say(deployd("status"))
            sys.exit(1)
        time.sleep(0.3)


def table():
    say(deployd("status").rstrip())


def served(env, service):
    st = json.loads((WORK / env / service / "state.json").read_text())
    inst = [i for i in st["instances"] if i["version"] == st["current"]][0]
    port = inst["replicas"][0]["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=3) as r:
        return r.read().decode().strip(), port


def main():
    os.chdir(ROOT)
    # A previous demo's workloads outlive it: stop them, then start afresh.
    if pathlib.Path(STATE).exists():
        subprocess.run([DEPLOYD, "down", "--plan", PLAN, "--state", STATE], capture_output=True, timeout=120)
    for p in [WORK / "dev", WORK / "staging", WORK / "prod-eu", WORK / "prod-us"]:
        subprocess.run(["rm", "-rf", str(p)])
    WORK.mkdir(mode=0o700, exist_ok=True)
    WORK.chmod(0o700)  # deployd refuses a state directory others may write
    for suffix in ("", "-wal", "-shm", ".lock"):
        pathlib.Path(STATE + suffix).unlink(missing_ok=True)

    clock = next_weekday_nine()
    env = dict(os.environ, DEMO_FAILING_VERSIONS="2.0.0@staging")
    say(f"$ DEMO_FAILING_VERSIONS=2.0.0@staging deployd run --plan {os.path.relpath(PLAN)} --tick 200ms "
        f"--clock-start {clock} --clock-rate {RATE} > .deploy/deployd.log &")
    log = open(LOG, "w")
    daemon = subprocess.Popen([DEPLOYD, "run", "--plan", PLAN, "--state", os.path.relpath(STATE, ROOT), "--tick", "200ms",
                               "--clock-start", clock, "--clock-rate", str(RATE)],
                              stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    follower, done = LogFollower(), set()
    try:
        deadline = time.monotonic() + 30
        while not deployd("status", check=False).startswith("UNIT") and time.monotonic() < deadline:
            time.sleep(0.1)
        say("\n== release 1.0.0 of every service")
        for service in ("payments", "api", "web"):
            say("$ DEPLOYD_TOKEN=<@ci's token> deployd release " + service + " 1.0.0")
            say("  " + deployd("release", service, "1.0.0", who=CI).strip())
        rows = follow(lambda r: len(r) == 12 and all(v[3] == "succeeded" and v[2] == "1.0.0" for v in r.values()),
                      "1.0.0 everywhere", follower, done)
        say(f"\n== 1.0.0 runs everywhere ({time.monotonic() - started:.0f} s)")
        table()

        say("\n== release api 2.0.0 (it fails its health check in staging)")
        say("  " + deployd("release", "api", "2.0.0", who=CI).strip())
        follow(lambda r: r.get("api@staging", ("",) * 5)[0] == "r4" and r["api@staging"][3] == "rolled-back"
               and r["api@staging"][2] == "1.0.0", "the rollback of api 2.0.0 in staging", follower, done)
        time.sleep(1)
        follower.poll()
        say(f"\n== api 2.0.0 rolled back in staging; production keeps 1.0.0 ({time.monotonic() - started:.0f} s)")
        table()
        say("")
        for env_name in ("dev", "staging", "prod-eu", "prod-us"):
            version, port = served(env_name, "api")
            say(f"api in {env_name:8} serves {version} (http://127.0.0.1:{port}/version)")
        for env_name in ("prod-eu", "prod-us"):
            if served(env_name, "api")[0] != "1.0.0":
                sys.exit(f"demo: api in {env_name} does not serve 1.0.0")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
    say(f"\ndemo finished in {time.monotonic() - started:.0f} s. deployd stopped; the workloads keep serving.")
    say(f"  {os.path.relpath(DEPLOYD)} history api@staging   # the journal of one unit")
    say(f"  {os.path.relpath(DEPLOYD)} down                  # stop every workload")
    say(f"  full log: {os.path.relpath(LOG)}")


if __name__ == "__main__":
    main()
