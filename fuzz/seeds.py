#!/usr/bin/env python3
"""Writes the seed corpus of one fuzz target into OUT (emptied first).

fuzz_frontend: every tests/lit/**/*.dpl, every lit test that holds a
split-file tree (the target splits `//--- NAME` sections itself), and each
example tree as one split-file input.
fuzz_plan_loader: the golden plans, plans compiled from the examples (when a
deployc binary is given), and the handmade seeds in fuzz/seeds/plan_loader/.

usage: fuzz/seeds.py TARGET OUT [DEPLOYC]
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def files_under(rel, suffixes):
    top = os.path.join(ROOT, rel)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(suffixes):
                yield os.path.join(dirpath, name)


def seed_name(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "__")


def frontend_seeds(out):
    count = 0
    for path in files_under("tests/lit", (".dpl", ".dpl.in")):
        shutil.copy(path, os.path.join(out, seed_name(path)))
        count += 1
    for path in files_under("tests/lit", (".test",)):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if "\n//--- " in text:
            shutil.copy(path, os.path.join(out, seed_name(path)))
            count += 1
    examples = os.path.join(ROOT, "examples")
    for name in sorted(os.listdir(examples)):
        tree = os.path.join(examples, name)
        parts = []
        for path in files_under(os.path.join("examples", name), (".dpl",)):
            with open(path, encoding="utf-8") as f:
                parts.append("//--- %s\n%s" % (os.path.relpath(path, tree), f.read()))
        if parts:
            with open(os.path.join(out, "examples__%s.tree" % name), "w", encoding="utf-8") as f:
                f.write("".join(parts))
            count += 1
    return count


def plan_seeds(out, deployc):
    count = 0
    for path in files_under("tests/lit", (".json",)):
        shutil.copy(path, os.path.join(out, seed_name(path)))
        count += 1
    for path in files_under("fuzz/seeds/plan_loader", (".json",)):
        shutil.copy(path, os.path.join(out, seed_name(path)))
        count += 1
    if deployc:
        examples = os.path.join(ROOT, "examples")
        for name in sorted(os.listdir(examples)):
            target = os.path.join(out, "examples__%s.plan.json" % name)
            result = subprocess.run([deployc, "compile", os.path.join(examples, name), "-o", target,
                                     "--stdlib", os.path.join(ROOT, "stdlib")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            count += result.returncode == 0
    return count


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    target, out = sys.argv[1], sys.argv[2]
    deployc = sys.argv[3] if len(sys.argv) == 4 else None
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    if target == "fuzz_frontend":
        count = frontend_seeds(out)
    elif target == "fuzz_plan_loader":
        count = plan_seeds(out, deployc)
    else:
        sys.exit("seeds.py: unknown target `%s`" % target)
    print("seeds: %d seed inputs for %s in %s" % (count, target, out))


if __name__ == "__main__":
    main()
