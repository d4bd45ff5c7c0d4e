"""Validates answers against their schemas with `jsonschema` (Draft 2020-12), independently of Agora's matcher.

Usage: python3 validate_schemas.py FILE   (JSON lines: {"schema": text, "text": the answer})
Prints "N of M valid" and every failure; exits 1 if any.
"""
import json
import sys

import jsonschema

records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
failures = []
for record in records:
    try:
        schema = json.loads(record["schema"])
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(json.loads(record["text"]))
    except Exception as error:  # noqa: BLE001 - each failure is reported
        failures.append(f"{record['schema']}\n  {record['text']!r}\n  {type(error).__name__}: {str(error)[:300]}")
print(f"{len(records) - len(failures)} of {len(records)} valid")
for failure in failures:
    print(failure)
sys.exit(1 if failures else 0)
