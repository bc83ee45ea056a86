"""Reads one JSON document from stdin and prints every leaf as `path = value`
(keys sorted, values JSON-encoded), so tests can FileCheck JSON output without
depending on key order or indentation. Fails if stdin is not exactly one JSON
document."""
import json
import sys


def walk(path, value):
    if isinstance(value, dict):
        if not value:
            print(f"{path} = {{}}")
        for key in sorted(value):
            walk(f"{path}.{key}" if path else key, value[key])
    elif isinstance(value, list):
        if not value:
            print(f"{path} = []")
        for i, item in enumerate(value):
            walk(f"{path}[{i}]", item)
    else:
        print(f"{path} = {json.dumps(value, ensure_ascii=False)}")


walk("", json.load(sys.stdin))
