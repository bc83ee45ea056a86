"""Checks SARIF `tool.driver.rules` against Diagnostics.def: one rule per
error and warning id, in declaration order, with the declared level, and
every result's ruleIndex pointing at the rule of its ruleId.

Usage: check_sarif_rules.py DIAGNOSTICS_DEF < output.sarif"""
import json
import re
import sys

declared = []
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        m = re.match(r"^\s*DIAG\(\s*([EW]\d{3})\s*,\s*(Error|Warning)\b", line)
        if m:
            declared.append((m.group(1), m.group(2).lower()))

run = json.load(sys.stdin)["runs"][0]
rules = run["tool"]["driver"]["rules"]
actual = [(r["id"], r["defaultConfiguration"]["level"]) for r in rules]
errors = []
if actual != declared:
    errors.append(f"rules {actual} differ from Diagnostics.def {declared}")
for i, result in enumerate(run["results"]):
    index = result.get("ruleIndex")
    if index is None or not 0 <= index < len(rules) or rules[index]["id"] != result["ruleId"]:
        errors.append(f"results[{i}]: ruleIndex {index} does not point at rule {result['ruleId']}")
for e in errors:
    print("error:", e)
if not errors:
    print(f"rules match Diagnostics.def: {len(declared)} ids; ruleIndex consistent")
sys.exit(1 if errors else 0)
