"""Fails when a diagnostic id of Diagnostics.def has no golden test.

Usage: check_coverage.py DIAGNOSTICS_DEF TEST_ROOT

Every E... and W... id declared with DIAG(...) must appear in a positive
FileCheck directive (CHECK:, CHECK-NEXT:, a custom prefix, ...; not a -NOT
directive) of some test file under TEST_ROOT, in one of the forms the
renderers print:
  text    `... [E201]`
  JSON    `"id": "E201"`     (or flattened: `.id = "E201"`)
  SARIF   `"ruleId": "E201"` (or flattened: `.ruleId = "E201"`)
  GitHub  `title=E201 ...`
Ids used in tests but missing from Diagnostics.def are reported too (a stale
test for a removed or renumbered id).
"""
import os
import re
import sys

DIAG_RE = re.compile(r"^\s*DIAG\(\s*([EWN]\d{3})\s*,\s*(\w+)")
# A FileCheck directive in a comment: `// PREFIX:` or `// PREFIX-NEXT:` etc.
DIRECTIVE_RE = re.compile(
    r"^\s*(?://|#|;)\s*([A-Z][A-Z0-9_-]*?)(-NEXT|-SAME|-DAG|-LABEL|-EMPTY|-NOT|-COUNT-\d+)?:(.*)$")
ID_FORMS = [
    re.compile(r"\[([EW]\d{3})\]"),
    re.compile(r"\"id\"\s*:\s*\"([EW]\d{3})\""),
    re.compile(r"\"ruleId\"\s*:\s*\"([EW]\d{3})\""),
    re.compile(r"\.(?:id|ruleId) = \"([EW]\d{3})\""),
    re.compile(r"title=([EW]\d{3})\b"),
]
NOT_DIRECTIVES = {"RUN", "REQUIRES", "UNSUPPORTED", "XFAIL", "END"}


def declared_ids(def_path):
    ids = []
    with open(def_path, encoding="utf-8") as f:
        for line in f:
            m = DIAG_RE.match(line)
            if m and m.group(1)[0] in "EW":
                ids.append(m.group(1))
    return ids


def tested_ids(root):
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("Inputs", "Output"))
        for name in sorted(filenames):
            if not name.endswith((".dpl", ".test")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    m = DIRECTIVE_RE.match(line)
                    if not m or m.group(1) in NOT_DIRECTIVES or m.group(2) == "-NOT":
                        continue
                    for form in ID_FORMS:
                        for diag_id in form.findall(m.group(3)):
                            found.setdefault(diag_id, os.path.relpath(path, root))
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    declared = declared_ids(sys.argv[1])
    if not declared:
        sys.exit(f"error: no DIAG(...) ids found in {sys.argv[1]}")
    found = tested_ids(sys.argv[2])
    missing = [i for i in declared if i not in found]
    stale = sorted(i for i in found if i not in declared)
    for i in missing:
        print(f"error: diagnostic {i} has no test (no CHECK line mentions [{i}])")
    for i in stale:
        print(f"error: {found[i]} checks for {i}, which Diagnostics.def does not declare")
    if missing or stale:
        return 1
    print(f"all {len(declared)} error and warning ids of Diagnostics.def are covered by tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
