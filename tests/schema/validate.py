#!/usr/bin/env python3
"""Validates documents against dropgen's JSON Schemas with a real validator.

Reads one JSON object from stdin:
{"schemas": {name: schema}, "docs": [[name, document, explain], ...]}.
Checks each schema against the draft 2020-12 meta-schema, then prints one JSON line per
document, in order: null when it is valid, else its most relevant error as
"<path>: <message>" when `explain` is true, or "invalid".
Exit 0 when it ran (whatever the verdicts), 2 when a schema is itself invalid, 77 when the
jsonschema package is missing (the caller decides whether that is a skip or a failure).
Used by src/schema/tests.rs.
"""
import json
import sys

try:
    import jsonschema
except ImportError as err:  # pragma: no cover - environment dependent
    print(f"SKIPPED: {err.name} is not installed (pip install -r tests/schema/requirements.txt)")
    sys.exit(77)


def main():
    request = json.load(sys.stdin)
    validators = {}
    for name, schema in request["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as err:
            print(f"schema {name} is not a valid draft 2020-12 schema: {err.message}", file=sys.stderr)
            return 2
        validators[name] = jsonschema.Draft202012Validator(schema)
    out = sys.stdout
    for name, document, explain in request["docs"]:
        validator = validators[name]
        if validator.is_valid(document):
            out.write("null\n")
        elif not explain:
            out.write('"invalid"\n')
        else:
            error = jsonschema.exceptions.best_match(validator.iter_errors(document))
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            out.write(json.dumps(f"{path or '.'}: {error.message}") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
