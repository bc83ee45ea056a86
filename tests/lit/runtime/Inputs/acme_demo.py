"""Drives acme-demo.test: the README's demo (scripts/demo-rollout.py) on the
example organization, in a scratch directory; then counts the notifications
in deployd's log and stops every workload, whatever happened. The copy of
examples/acme gets base ports 10000 higher, so the test never collides with
a demo left running on this machine."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

deployc, deployd, work, srcroot = sys.argv[1:5]
root = pathlib.Path(work)
(root / ".deploy").mkdir(parents=True, exist_ok=True)
src = pathlib.Path(srcroot) / "examples"
shutil.copytree(src / "acme", root / "examples" / "acme")
os.symlink(src / "demo-service", root / "examples" / "demo-service")
envs = root / "examples" / "acme" / "platform" / "environments.dpl"
envs.write_text(re.sub(r"base_port = (\d+)", lambda m: f"base_port = {int(m.group(1)) + 10000}", envs.read_text()))
plan = root / ".deploy" / "plan.json"
try:
    subprocess.run([deployc, "compile", str(root / "examples" / "acme"), "-o", str(plan)], check=True, timeout=60)
    r = subprocess.run([sys.executable, str(pathlib.Path(srcroot) / "scripts" / "demo-rollout.py"),
                        "--root", str(root), "--deployd", deployd], capture_output=True, text=True, timeout=300)
    print(r.stdout, r.stderr, f"demo exit {r.returncode}", sep="\n")
    log = (root / ".deploy" / "deployd.log").read_text()
    # A unit that waits on a resource is notified once; one that finds it
    # already ready (marked while a parallel branch waited) is not at all.
    print("== notifications")
    per_unit = {}
    for l in log.splitlines():
        if "  notify: " in l:
            unit, rest = l.split("  notify: ", 1)[1].split(" ", 1)
            name = rest.split(" → ")[0].removeprefix("resource ")
            per_unit.setdefault(name, {}).setdefault(unit, 0)
            per_unit[name][unit] += 1
    for name, units in sorted(per_unit.items()):
        print(name, "notified:", len(units) >= 1, "at most once per unit:", max(units.values()) == 1)
finally:
    subprocess.run([deployd, "down", "--plan", str(plan), "--state", str(root / ".deploy" / "state.db")],
                   capture_output=True, timeout=120)
    # Belt and braces: every replica records its pid itself.
    for pidfile in root.rglob("*.pid"):
        try:
            os.kill(int(pidfile.read_text().split()[0]), 15)
        except (ValueError, IndexError, OSError):
            pass
