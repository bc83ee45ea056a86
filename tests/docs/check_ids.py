#!/usr/bin/env python3
"""Every active E/W id of Diagnostics.def has a section (anchor + heading with
its name + the exact message format); every N id has a notes-table row with
its name and format; the doc documents no id the .def does not define
(except ids listed as retired)."""
import os
import re, sys
REPO = os.environ.get("DEPLOYC_SRC_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEF = os.path.join(REPO, "compiler/basic/Diagnostics.def")
DOC = os.path.join(REPO, "docs/language.md")
diags = {}
for line in open(DEF, encoding="utf-8"):
    m = re.match(r'^DIAG\((\w+), (\w+), ([\w-]+), "(.*)"\)\s*$', line)
    if m:
        ident, sev, name, fmt = m.groups()
        fmt = fmt.replace('\\\\', '\\').replace('\\"', '"').replace("{{", "{").replace("}}", "}")
        diags[ident] = (sev, name, fmt)
doc = open(DOC, encoding="utf-8").read()
def unticks(s):  # `` x `` or `x` -> x
    s = s.strip()
    m = re.fullmatch(r"(`+) ?(.*?) ?\1", s)
    return m.group(2) if m else None
problems = []
for ident, (sev, name, fmt) in diags.items():
    if ident[0] in "EW":
        if f'<a id="{ident}"></a>' not in doc:
            problems.append(f"{ident}: no anchor")
        hm = re.search(rf"^#### {ident} (\S+)$", doc, re.M)
        if not hm:
            problems.append(f"{ident}: no heading"); continue
        if hm.group(1) != name:
            problems.append(f"{ident}: heading name {hm.group(1)} != {name}")
        sec = doc[hm.end():]
        mm = re.search(r"^(Error|Warning): (.*)$", sec, re.M)
        got = unticks(mm.group(2)) if mm else None
        if not mm or mm.group(1) != sev or got != fmt:
            problems.append(f"{ident}: format line {mm.group(0) if mm else None!r} != {sev}: {fmt!r}")
    else:
        rm = re.search(rf"^\| {ident} \| ([\w-]+) \| (.*?) \| (.*?) \|$", doc, re.M)
        if not rm:
            problems.append(f"{ident}: no notes-table row"); continue
        if rm.group(1) != name:
            problems.append(f"{ident}: row name {rm.group(1)} != {name}")
        if unticks(rm.group(2)) != fmt:
            problems.append(f"{ident}: row format {rm.group(2)!r} != {fmt!r}")
retired = set(re.findall(r"\b([EWN]\d{3})\b", doc[doc.find('<a id="retired"></a>'):][:3000])) if '<a id="retired"></a>' in doc else set()
for ident in sorted(set(re.findall(r'<a id="([EWN]\d{3})"></a>', doc)) |
                    set(re.findall(r"^#### ([EWN]\d{3}) ", doc, re.M)) |
                    set(re.findall(r"^\| (N\d{3}) \|", doc, re.M))):
    if ident not in diags and ident not in retired:
        problems.append(f"{ident}: documented but not in Diagnostics.def")
for ref in sorted(set(re.findall(r"\]\(#([EWN]\d{3})\)", doc))):
    if f'<a id="{ref}"></a>' not in doc:
        problems.append(f"link to #{ref} has no anchor")
print(f"{len(diags)} ids in Diagnostics.def "
      f"({sum(1 for i in diags if i[0] in 'EW')} E/W, {sum(1 for i in diags if i[0] == 'N')} N)")
for p in problems:
    print("PROBLEM:", p)
print("OK" if not problems else f"{len(problems)} problems")
sys.exit(1 if problems else 0)
