"""Drives cli-errors.test against a running daemon: names checked against
the daemon's plan, versions and identities validated, identities from the
kernel or a token and never from a flag or $USER, control characters
escaped, the reason an apply failed in the journal."""
import json
import os
import pathlib
import stat
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from harness import Harness  # noqa: E402

deployc, deployd, work, policy = sys.argv[1:5]
os.makedirs(work, mode=0o700, exist_ok=True)
h = Harness(deployc, deployd, work)


def step(title, *args, env=None, prefix=()):
    cmd = [*prefix, deployd, *args, "--state", h.state, "--socket", h.socket]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
    print(f"== {title} (exit {r.returncode})")
    print((r.stdout + r.stderr).strip())
    return r


try:
    h.sh(deployc, "compile", policy, "-o", h.plan)
    d = h.start()
    step("empty version", "release", "web", "")
    step("shell in a version", "release", "web", "1.0;rm")
    step("service typo", "release", "wbe", "1.0.0")
    step("USER does not name the releaser", "release", "web", "9.9.9", env={"USER": "@ci"})
    step("unit typo", "rollback", "web@prdo")
    step("not a unit", "rollback", "web")
    step("history typo", "history", "web@dve")
    step("history of a service typo", "history", "wbe")
    step("resource typo", "resource", "release-note-1.0", "ready")
    step("resource", "resource", "release-notes-9.9.9", "ready")
    step("identity with a newline", "token", "create", "@ann\n@root")
    step("identity with ESC", "token", "create", "@ann\x1b[2J")
    ann = h.token("@ann")
    step("a token's holder is not an admin", "token", "create", "@evil", env={"DEPLOYD_TOKEN": ann})
    step("unknown token", "status", env={"DEPLOYD_TOKEN": "dpl_" + "0" * 64})
    tok = pathlib.Path(h.work) / "ann.token"
    tok.write_text(ann + "\n")
    tok.chmod(0o644)
    step("token file readable by others", "release", "web", "9.9.10", "--token-file", str(tok))
    tok.chmod(0o600)
    step("token file", "release", "web", "9.9.10", "--token-file", str(tok))
    step("revoke", "token", "revoke", "@ann")
    step("revoked token", "release", "web", "9.9.11", "--token-file", str(tok))
    # Another local user: the kernel names it (SO_PEERCRED); nobody may
    # release but not roll back prod, which has approvers.
    os.chmod(h.sockdir, 0o755)
    nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    step("another user releases", "release", "web", "9.9.12", prefix=nobody)
    step("another user may not create tokens", "token", "create", "@nobody2", prefix=nobody)
    h.sh(deployd, "wait", "--idle", "--timeout", "60s", "--socket", h.socket)
    step("why the apply failed", "history", "web@dev")
    step("history of a service", "history", "web")
    # A flood: 120 releases from 8 clients at once (before: ~80 releases/s
    # killed the daemon with "the engine state changed during the step").
    import concurrent.futures
    def one(i):
        return subprocess.run([deployd, "release", "web", f"10.0.{i}", "--state", h.state, "--socket", h.socket],
                              capture_output=True, text=True, timeout=60).returncode
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(120)))
    print("== flood")
    print("releases accepted:", codes.count(0), "daemon alive:", d.poll() is None)
    snap = json.loads(h.sh(deployd, "status", "-o", "json", "--state", h.state, "--socket", h.socket).stdout)
    print("status -o json: live", snap["live"], "units", [u["unit"] for u in snap["units"]])
    ids = {e["release"] for e in json.loads(h.sh(deployd, "history", "web", "-o", "json", "--state", h.state,
                                                  "--socket", h.socket).stdout)["entries"] if e["to"] == "requested"}
    print("distinct release ids:", len(ids))
    # A second daemon with another store on the same runtime targets.
    other = subprocess.run([deployd, "run", "--plan", h.plan, "--state", str(pathlib.Path(work) / "other" / "st.db"),
                            "--socket", h.socket + "2", "--until-idle"], capture_output=True, text=True, timeout=60)
    print(f"== a second daemon on the same targets (exit {other.returncode})")
    print(other.stderr.strip())
    h.stop(d)
finally:
    h.cleanup()
