"""Drives scenarios.test: deployd end to end on real processes, one
scenario after another on one store, printing what the test checks.

dev -> staging -> (prod-a | prod-b), a daily 07:00-19:00 UTC production
window, staging halts on failure. Each `deployd run` gets a simulated clock
that starts later than the previous one (a Wednesday), so the window is
under the test's control."""
import json
import pathlib
import re
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from harness import Harness  # noqa: E402

h, server = Harness.from_argv()
W = h.work

POLICY = """owner ops;
stakeholder ops { paths = ["**"]; may = [environments, defaults, require]; services = ["*"]; }
environment dev { tier = "dev"; runtime = process { workdir = "@WORK@/run/dev"; base_port = 25100; }; }
environment staging { tier = "staging"; after = [dev]; runtime = process { workdir = "@WORK@/run/staging"; base_port = 25200; }; }
environment prod-a { tier = "prod"; after = [staging]; runtime = process { workdir = "@WORK@/run/prod-a"; base_port = 25300; }; }
environment prod-b { tier = "prod"; after = [staging]; runtime = process { workdir = "@WORK@/run/prod-b"; base_port = 25400; }; }
@EXTRA@
service api {
  artifact = exec(["python3", "@SERVER@", "--name", "api", "--env", "${env.name}", "--port", "${port}", "--version", "${version}"]);
  health = http(path = "/healthz");
  apply_timeout = 1m;
  require soak(2s);
  in staging { on_failure = halt; }
}
rule prod-window {
  when env.tier == "prod";
  require window(days = [mon, tue, wed, thu, fri, sat, sun], from = 07:00, to = 19:00, tz = "UTC");
}
"""
PROD_C = """environment prod-c { tier = "prod"; after = [staging]; runtime = process { workdir = "@WORK@/run/prod-c"; base_port = 25500; }; }"""
FAILING = {"DEMO_FAILING_VERSIONS": "v3@staging,v4@staging"}


def policy(extra=""):
    return POLICY.replace("@SERVER@", server).replace("@EXTRA@", extra)


def show(title, units=("api@dev", "api@staging", "api@prod-a", "api@prod-b")):
    rows = h.status()
    print(f"== {title}")
    for u in units:
        r = rows.get(u)
        print(u, r["release"], r["desired"], r["actual"], r["state"], r["waiting"]) if r else print(u, "absent")


try:
    h.compile(policy())
    # --- 1. happy path, a closed window that opens, parallel prod branches
    d = h.start("--clock-start", "2026-12-02T06:59:00Z", "--clock-rate", "4", env=FAILING)
    h.cli("release", "api", "v1", "--as", "@ci")
    rows = h.wait_for("prod waiting on the window",
                      lambda r: r.get("api@prod-a", {}).get("waiting") == "outside the release window")
    show("window closed")
    h.wait_for("v1 everywhere", lambda r: all(r.get(u, {}).get("state") == "succeeded" and
                                              r[u]["actual"] == "v1" for u in
                                              ("api@dev", "api@staging", "api@prod-a", "api@prod-b")))
    d.terminate(); d.wait(timeout=30)
    show("v1 everywhere")
    hist = h.history()
    gate = [l for l in hist if "api@prod-a" in l and "gate-1-window" in l]
    print("window gate:", gate[0].split("  ", 2)[-1] if gate else "none")
    # Parallel branches: both prods were applying before either succeeded.
    first_success = next(i for i, l in enumerate(hist) if "api@prod-" in l and "verifying → succeeded" in l)
    applying = {l.split()[0] for l in hist[:first_success] if "gated → applying" in l and "api@prod-" in l}
    print("prods applying before the first prod success:", sorted(applying))

    # --- 2. a release that fails its health check in staging halts there
    r = h.run("--clock-start", "2026-12-02T10:00:00Z", "--clock-rate", "4", env=FAILING,
              before=[("release", "api", "v3", "--as", "@ci")])
    show("v3 halted in staging")
    print([l.split("  ", 2)[-1] for l in h.history("api@staging") if "halted" in l][0])
    print("staging serves", h.served(W / "run/staging", "api"))
    h.run("--clock-start", "2026-12-02T10:10:00Z", "--clock-rate", "4", env=FAILING,
          before=[("rollback", "api@staging", "--as", "@ann")])
    show("after a person rolled staging back")

    # --- 3. v2 (good) while prod-b is disconnected: prod-b catches up later
    (W / "run/prod-b").rename(W / "run/prod-b.away")
    (W / "run/prod-b").write_text("the workdir is gone: the environment cannot be reached")
    h.run("--clock-start", "2026-12-02T11:00:00Z", "--clock-rate", "4", env=FAILING,
          before=[("resume", "api@staging", "--as", "@ann"), ("release", "api", "v2", "--as", "@ci")])
    show("prod-b disconnected")
    print("prod-b still serves", h.served(W / "run/prod-b.away", "api"), "while disconnected")
    (W / "run/prod-b").unlink()
    (W / "run/prod-b.away").rename(W / "run/prod-b")
    h.run("--clock-start", "2026-12-02T11:30:00Z", "--clock-rate", "4", env=FAILING)
    show("prod-b reconnected")
    print("\n".join(l.split("  ", 2)[-1] for l in h.history("api@prod-b") if "connected" in l))

    # --- 4. v4 fails in staging; then prod-c is added: it converges to v2
    h.run("--clock-start", "2026-12-02T12:00:00Z", "--clock-rate", "4", env=FAILING,
          before=[("release", "api", "v4", "--as", "@ci")])
    h.run("--clock-start", "2026-12-02T12:10:00Z", "--clock-rate", "4", env=FAILING,
          before=[("rollback", "api@staging", "--as", "@ann")])
    def releases():
        return sorted(set(re.findall(r"\(release (r\d+) \(", h.cli("history").stdout)))
    before = releases()
    h.compile(policy(PROD_C))
    h.run("--clock-start", "2026-12-02T13:00:00Z", "--clock-rate", "4", env=FAILING,
          before=[("resume", "api@staging", "--as", "@ann")])
    show("prod-c added", units=("api@staging", "api@prod-a", "api@prod-c"))
    print("prod-c serves", h.served(W / "run/prod-c", "api"))
    print("\n".join(l for l in h.history("api@prod-c") if "→ succeeded" in l))
    print("releases before:", " ".join(before), "after:", " ".join(releases()))

    # --- 5. prod-b is removed from the plan: orphaned, still running, pruned
    st = json.loads((W / "run/prod-b/api/state.json").read_text())
    pids = [r["pid"] for i in st["instances"] for r in i["replicas"]]
    h.compile(policy(PROD_C).replace(
        'environment prod-b { tier = "prod"; after = [staging]; runtime = process { workdir = "@WORK@/run/prod-b"; base_port = 25400; }; }', ""))
    d = h.start("--clock-start", "2026-12-02T14:00:00Z", "--clock-rate", "4", env=FAILING)
    h.sh(h.deployd, "wait", "--idle", "--timeout", "60s", "--socket", h.socket)
    print("== prod-b removed")
    row = h.status().get("api@prod-b")
    print("api@prod-b", row["state"], row["waiting"])
    print("\n".join(l for l in h.history("api@prod-b") if "orphaned" in l))
    print("prod-b replicas running:", all(pathlib.Path(f"/proc/{p}").exists() for p in pids))
    print(h.cli("prune", "prod-b").stdout.strip())
    time.sleep(0.5)
    print("prod-b replicas running after prune:", any(
        pathlib.Path(f"/proc/{p}/stat").exists() and pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        for p in pids))
    print("api@prod-b in status:", "api@prod-b" in h.status())
    print(h.cli("prune", "prod-a", check=False).stderr.strip())
    h.stop(d)
finally:
    h.cleanup()
