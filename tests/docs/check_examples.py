#!/usr/bin/env python3
"""Re-run every ```console example of docs/language.md against the current
deployc and compare (or, with --fix, rewrite) the shown output.
Trees: the `file`-labelled ```dpl blocks since the previous console block
(an unlabelled dpl block right before the console block is main.dpl); a
console block with no new files reuses the previous tree."""
import os, re, shutil, subprocess, sys

REPO = os.environ.get("DEPLOYC_SRC_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DOC = os.path.join(REPO, "docs/language.md")
SCRATCH = os.environ.get("DOCS_SCRATCH", "/tmp/deployc-docs-check")
BIN = os.environ.get("DEPLOYC_BIN_DIR", os.path.join(REPO, "build/bin"))
PREAMBLE = ('owner ops;\nstakeholder ops { paths = ["**"]; may = [environments, defaults, '
            'require, constrain]; services = ["*"]; }\n')

def special_tree(heading, text_before):
    """Inputs the doc describes in prose rather than in a dpl block."""
    if heading.startswith("E002"):
        return {"main.dpl": b"owner ops;\n// caf\xe9\n"}
    if heading.startswith("E110"):
        return {"main.dpl": (PREAMBLE + "rule r { when " + " or ".join(
            'env.name == "e%d"' % i for i in range(1, 1201)) + "; require soak(1m); }\n").encode()}
    if heading.startswith("E004"):
        return "truncate"
    if "Warnings do not change the exit status" in text_before:
        return {"main.dpl": (PREAMBLE + 'environment dev { tier = "dev"; }\n').encode()}
    if re.search(r"declares\s+25\s+services", text_before):
        body = PREAMBLE + "".join(
            f'service svc-{i} {{ artifact = exec(["./svc"]); replicas = "{i}"; }}\n'
            for i in range(1, 26))
        return {"main.dpl": body.encode()}
    return None

def parse(lines):
    """Yield blocks: dict(start, end, info, body, label, heading, before)."""
    heading, i, out, para = "", 0, [], []
    while i < len(lines):
        l = lines[i]
        m = re.match(r"^(#+) (.*)", l)
        if m:
            heading = re.sub(r"^[A-Z]\d{3} .*", lambda x: x.group(0), m.group(2))
            para = []
        if l.startswith("```"):
            info = l[3:].strip()
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            # label: last non-empty line before the fence
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            lm = re.match(r"^`([^`]+\.(?:dpl|md))`(?::| \()", lines[k]) if k >= 0 else None
            out.append(dict(start=i, end=j, info=info, body=lines[i + 1:j],
                            label=lm.group(1) if lm else None, heading=heading,
                            before="\n".join(para[-12:])))
            para = []
            i = j + 1
            continue
        para.append(l)
        i += 1
    return out

def run_console(body, cwd):
    """Run each `$ cmd` of a console block; return the transcript."""
    cmds = [l[2:] for l in body if l.startswith("$ ")]
    env = dict(os.environ, PATH=BIN + ":" + os.environ["PATH"], TERM="dumb")
    out, status = [], 0
    for c in cmds:
        out.append("$ " + c)
        if c == "echo $?":
            out.append(str(status))
            continue
        p = subprocess.run(["bash", "-o", "pipefail", "-c", c] if False else ["bash", "-c", c],
                           cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        status = p.returncode
        txt = p.stdout.decode("utf-8", "replace")
        out.extend(txt.rstrip("\n").split("\n") if txt else [])
    return out

def main():
    fix = "--fix" in sys.argv
    lines = open(DOC, encoding="utf-8").read().split("\n")
    blocks = parse(lines)
    files, tree, fails, checked = {}, None, 0, 0
    replacements = []
    for bi, b in enumerate(blocks):
        if b["info"] in ("dpl", "") and b["label"]:
            files[b["label"]] = ("\n".join(b["body"]) + "\n").encode()
            continue
        if b["info"] == "dpl" and not b["label"]:
            nxt = blocks[bi + 1] if bi + 1 < len(blocks) else None
            if nxt and nxt["info"] == "console" and lines[b["end"] + 1:nxt["start"]] == [""]:
                files["main.dpl"] = ("\n".join(b["body"]) + "\n").encode()
            continue
        if b["info"] != "console":
            continue
        checked += 1
        sp = special_tree(b["heading"], b["before"])
        if sp is not None:
            tree = sp
        elif files:
            tree = files
        files = {}
        cwd = SCRATCH
        shutil.rmtree(cwd, ignore_errors=True)
        os.makedirs(cwd)
        if tree == "truncate":
            subprocess.run(["truncate", "-s", "65M", os.path.join(cwd, "main.dpl")])
        elif tree:
            for name, data in tree.items():
                path = os.path.join(cwd, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").write(data)
        if any("examples/" in l or "no-such-dir" in l for l in b["body"] if l.startswith("$ ")):
            cwd = REPO if any("examples/" in l for l in b["body"]) else os.path.join(SCRATCH, "empty")
            os.makedirs(os.path.join(SCRATCH, "empty"), exist_ok=True)
        got = run_console(b["body"], cwd)
        if got != b["body"]:
            fails += 1
            print(f"--- line {b['start']+1} [{b['heading']}] differs")
            import difflib
            for d in difflib.unified_diff(b["body"], got, "doc", "binary", lineterm="", n=1):
                print(d)
            replacements.append((b["start"] + 1, b["end"], got))
    print(f"{checked} console examples, {fails} differ")
    if fix and replacements:
        for s, e, got in reversed(replacements):
            lines[s:e] = got
        open(DOC, "w", encoding="utf-8").write("\n".join(lines))
    return 1 if fails else 0

sys.exit(main())
