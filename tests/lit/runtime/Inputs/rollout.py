"""Drives rollout.test: every deployd step in order, printing what the test
checks; whatever happens, every process started is stopped at the end."""
import json, os, pathlib, signal, subprocess, sys, time

deployc, deployd, work, server, policy_in = sys.argv[1:6]
work = pathlib.Path(work)
state = str(work / "st.db")
plan = str(work / "plan.json")


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        print(f"FAILED {' '.join(args)} exit {r.returncode}\n{r.stdout}{r.stderr}")
        sys.exit(1)
    return r


def step(title, *args, check=True):
    r = sh(*args, check=check)
    print(f"== {title} (exit {r.returncode})")
    print((r.stdout + r.stderr).strip())


def replicas(env):
    st = json.load(open(work / "run" / env / "api" / "state.json"))
    return [i for i in st["instances"] if i["version"] == st["current"]][0]["replicas"]


def http_get(port, path):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
        return r.read().decode().strip()


def run_until_idle():
    return sh(deployd, "run", "--plan", plan, "--state", state, "--tick", "100ms", "--until-idle").stdout


try:
    (work / "policy").mkdir(parents=True, exist_ok=True)
    text = open(policy_in).read().replace("@WORK@", str(work)).replace("@SERVER@", server)
    (work / "policy" / "main.dpl").write_text(text)
    sh(deployc, "compile", str(work / "policy"), "-o", plan)
    step("release v1", deployd, "release", "api", "v1", "--as", "@ci", "--plan", plan, "--state", state)
    run_until_idle()
    step("status after v1", deployd, "status", "--state", state)
    step("approve by a non-member", deployd, "approve", "api@prod", "--as", "@mallory", "--plan", plan,
         "--state", state, check=False)
    step("approve by a member", deployd, "approve", "api@prod", "--as", "@ann", "--plan", plan, "--state", state)
    step("approve again", deployd, "approve", "api@prod", "--as", "@ann", "--plan", plan, "--state", state)
    run_until_idle()
    step("status after approval", deployd, "status", "--state", state)
    step("release v2-bad", deployd, "release", "api", "v2-bad", "--as", "@ci", "--plan", plan, "--state", state)
    run_until_idle()
    step("status after v2-bad", deployd, "status", "--state", state)
    print("== versions served")
    print("dev", http_get(replicas("dev")[0]["port"], "/version"))
    print("prod", http_get(replicas("prod")[0]["port"], "/version"))
    step("history of api@dev", deployd, "history", "api@dev", "--plan", plan, "--state", state)
    print("== drift")
    pid = replicas("prod")[0]["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    print("\n".join([l.split("  ", 1)[1] for l in run_until_idle().splitlines() if "drift" in l or "converged" in l][:3]))
    print("prod healthy again:", all(http_get(r["port"], "/healthz") == "ok" for r in replicas("prod")))
    step("manual rollback", deployd, "rollback", "api@prod", "--as", "@ann", "--plan", plan, "--state", state)
    print([l.split("  ", 1)[1] for l in run_until_idle().splitlines() if "manual" in l][0])
    step("status while pinned", deployd, "status", "--state", state)
    step("resume", deployd, "resume", "api@prod", "--plan", plan, "--state", state)
    print("== status --watch")
    watch = subprocess.Popen([deployd, "status", "--watch", "--interval", "300ms", "--plan", plan, "--state", state],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.2)
    watch.send_signal(signal.SIGINT)
    out, err = watch.communicate(timeout=10)
    frames = out.count("deployd status at ")
    print("frames >= 3:", frames >= 3, "exit", watch.returncode, "last frame:")
    print(out.strip().split("\n\n")[-1].split("\n", 1)[1])
    print("== lock")
    first = subprocess.Popen([deployd, "run", "--plan", plan, "--state", state, "--tick", "200ms"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        second = sh(deployd, "run", "--plan", plan, "--state", state, "--until-idle", check=False)
        print(second.stderr.strip(), "exit", second.returncode)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        print("first run stopped on SIGTERM, exit", first.returncode)
finally:
    for state_file in (work / "run").rglob("state.json"):
        for inst in json.load(open(state_file))["instances"]:
            for r in inst["replicas"]:
                try:
                    os.kill(r["pid"], signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
