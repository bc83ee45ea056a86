"""Drives rollout.test: one `deployd run` in the background, every CLI step
through its control API in order, printing what the test checks; whatever
happens, every process started is stopped at the end. People are played
with API tokens; the test's own user (root here) is the admin."""
import json, os, pathlib, signal, subprocess, sys, time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from harness import Harness  # noqa: E402

deployc, deployd, work, server, policy_in = sys.argv[1:6]
h = Harness(deployc, deployd, work)
W = h.work


def step(title, *args, check=True):
    r = h.cli(*args, check=check)
    print(f"== {title} (exit {r.returncode})")
    print((r.stdout + r.stderr).strip())


def replicas(env):
    st = json.load(open(W / "run" / env / "api" / "state.json"))
    return [i for i in st["instances"] if i["version"] == st["current"]][0]["replicas"]


def http_get(port, path):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
        return r.read().decode().strip()


def idle():
    h.sh(deployd, "wait", "--idle", "--timeout", "120s", "--socket", h.socket)


def log_since(mark):
    return h.daemons[-1].logs[0].read_text()[mark:]


try:
    text = open(policy_in).read().replace("@SERVER@", server)
    h.compile(text)
    d = h.start()
    step("release v1", "release", "api", "v1", "--as", "@ci")
    idle()
    step("status after v1", "status")
    step("approve by a non-member", "approve", "api@prod", "--as", "@mallory", check=False)
    step("approve by the releaser", "approve", "api@prod", "--as", "@ci", check=False)
    step("approve by a member", "approve", "api@prod", "--as", "@ann")
    step("approve again", "approve", "api@prod", "--as", "@ann")
    idle()
    step("status after approval", "status")
    step("release v2-bad", "release", "api", "v2-bad", "--as", "@ci")
    idle()
    step("status after v2-bad", "status")
    print("== versions served")
    print("dev", http_get(replicas("dev")[0]["port"], "/version"))
    print("prod", http_get(replicas("prod")[0]["port"], "/version"))
    step("history of api@dev", "history", "api@dev")
    print("== drift")
    mark = len(h.daemons[-1].logs[0].read_text())
    os.kill(replicas("prod")[0]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while "converged" not in log_since(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    print("\n".join([l.split("  ", 1)[1] for l in log_since(mark).splitlines()
                     if "drift" in l or "converged" in l][:3]))
    print("prod healthy again:", all(http_get(r["port"], "/healthz") == "ok" for r in replicas("prod")))
    step("rollback by a non-member of prod's approvers", "rollback", "api@prod", "--as", "@nobody", check=False)
    mark = len(h.daemons[-1].logs[0].read_text())
    step("manual rollback", "rollback", "api@prod", "--as", "@ann")
    idle()
    print([l.split("  ", 1)[1] for l in log_since(mark).splitlines() if "manual" in l][0])
    step("status while pinned", "status")
    step("resume", "resume", "api@prod", "--as", "@bob")
    idle()
    print("== status --watch")
    watch = subprocess.Popen([deployd, "status", "--watch", "--interval", "300ms", "--state", h.state,
                              "--socket", h.socket], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.2)
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=10)
    frames = out.count("deployd status at ")
    print("frames >= 3:", frames >= 3, "exit", watch.returncode, "last frame:")
    print(out.strip().split("\n\n")[-1].split("\n", 1)[1])
    print("== lock")
    second = h.sh(deployd, "run", "--plan", h.plan, "--state", h.state, "--until-idle", check=False)
    print(second.stderr.strip(), "exit", second.returncode)
    r = h.stop(d)
    print("first run stopped on SIGTERM, exit", r.returncode)
    step("status with no daemon", "status")
finally:
    h.cleanup()
