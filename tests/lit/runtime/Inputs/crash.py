"""Drives crash.test: deployd is killed with SIGKILL at seven different
points of two rollouts (DEPLOYD_FAILPOINTS, see docs/deployd.md), restarted
each time, and the rollout completes. Then every action must have happened
exactly once, checked against the journal, the intents table and the
adapters' own records (each replica's log says when it started)."""
import collections
import json
import pathlib
import re
import sqlite3
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from harness import Harness  # noqa: E402

h, server = Harness.from_argv()
W = h.work

POLICY = """owner ops;
stakeholder ops { paths = ["**"]; may = [environments, defaults, require]; services = ["*"]; }
environment dev { tier = "dev"; runtime = process { workdir = "@WORK@/run/dev"; base_port = 26100; }; }
environment prod { tier = "prod"; after = [dev]; runtime = process { workdir = "@WORK@/run/prod"; base_port = 26200; }; }
service api {
  artifact = exec(["python3", "@SERVER@", "--name", "api", "--port", "${port}", "--version", "${version}"]);
  health = http(path = "/healthz");
  replicas = 2;
  require soak(1s);
}
service web {
  artifact = files("@WORK@/dist/${version}");
  runtime = static { root = "@WORK@/run/${env.name}/web"; keep = 3; };
  depends_on = [api];
}
"""

# (failpoint, hit): where each run dies. Between the journal write and the
# adapter call; after a replica started but before it was recorded; before
# an executed action is marked done; between stopping the old version and
# recording the switch; before a static switch; after marking done; before
# the decision is committed.
KILLS = [
    ("daemon-after-commit", 1),
    ("process-after-spawn", 1),
    ("daemon-before-mark-done", 1),
    ("static-before-switch", 1),
    ("process-after-stop-old", 1),
    ("daemon-before-commit", 2),
    ("daemon-after-mark-done", 1),
]

try:
    for v in ("v1", "v2"):
        (W / "dist" / v).mkdir(parents=True, exist_ok=True)
        (W / "dist" / v / "index.html").write_text(f"web {v}\n")
    h.compile(POLICY.replace("@SERVER@", server))
    kills = list(KILLS)
    for version in ("v1", "v2"):
        # The releases go to a daemon that is then killed at once (SIGKILL,
        # wherever it is): the releases are in the store; the rollout is not.
        d = h.start()
        h.cli("release", "api", version, "--as", "@ci")
        h.cli("release", "web", version, "--as", "@ci")
        d.kill()
        d.wait(timeout=30)
        for _ in range(4 if version == "v1" else 3):
            point, hit = kills.pop(0)
            r = h.run(env={"DEPLOYD_FAILPOINTS": f"{point}:{hit}"}, check=False)
            killed = r.returncode == -9 and "failpoint hit" in r.stderr
            print(f"{version}: {point}:{hit} -> {'killed by SIGKILL' if killed else f'not hit (exit {r.returncode})'}")
        r = h.run()  # no failpoint: the rollout completes
        print(f"{version}: restarted, exit {r.returncode}")

    print("== final status")
    for unit, row in sorted(h.status().items()):
        print(unit, row["release"], row["desired"], row["actual"], row["state"])

    print("== journal")
    seen = collections.Counter()
    for line in h.history():
        unit, release, rest = line.split("  ", 2)
        move = rest.split("  (")[0]
        if "drift" not in rest and "converged" not in rest:
            seen[(unit, release, move)] += 1
    dups = {k: n for k, n in seen.items() if n > 1}
    print("transitions recorded twice:", dups or "none")
    applies = sorted(k for k in seen if k[2] == "gated → applying")
    print("applies journalled:", len(applies))

    print("== intents")
    db = sqlite3.connect(h.state)
    rows = db.execute("SELECT key, done_at_ms FROM intents ORDER BY key").fetchall()
    print("not done:", [k for k, d in rows if d is None] or "none")
    kinds = collections.Counter(k.split("|")[0] for k, _ in rows)
    print("intents:", dict(sorted(kinds.items())))

    print("== adapters")
    starts = collections.Counter()
    for log in sorted((W / "run").rglob("*.log")):
        n = sum(1 for l in log.read_text().splitlines() if " listening on " in l)
        starts[n] += 1
        if n != 1:
            print("started", n, "times:", log.relative_to(W))
    print("replica logs:", sum(starts.values()), "each started once:", set(starts) == {1})
    for env in ("dev", "prod"):
        st = json.loads((W / "run" / env / "api" / "state.json").read_text())
        print(env, "api current", st["current"], "pending", repr(st["pending"]), "serves", h.served(W / "run" / env, "api"))
        web = W / "run" / env / "web"
        print(env, "web current ->", (web / "current").readlink(), "kept", sorted(p.name for p in (web / "versions").iterdir()))
    # No replica of v1 is left running.
    import os
    alive = []
    for pid_file in (W / "run").rglob("v1-*.pid"):
        pid = int(pid_file.read_text().split()[0])
        try:
            stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(str(pid_file.relative_to(W)))
        except FileNotFoundError:
            pass
    print("v1 replicas still running:", alive or "none")
finally:
    h.cleanup()
