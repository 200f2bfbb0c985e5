"""docs/report-schema.json describes the report a real run writes, and rejects
a broken one.  Validation uses Debian's python3-jsonschema (harness/tools/deps.sh
installs it); without it, a small validator of the keywords the schema uses."""
import copy
import json
import re

import pytest

from conftest import ROOT, run_suite

SCHEMA = ROOT / "docs" / "report-schema.json"


def node_ids(n=2):
    """Scenarios any machine runs on Node.js: required, no capability needed."""
    from listen_conformance import table
    return [sc["id"] for sc in table.load() if sc["applies"] != "c" and not sc["needs"]
            and sc["level"] == "must"][:n]


def load_schema():
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# The validator: jsonschema when installed, else a small one

def errors(doc, schema) -> list[str]:
    try:
        import jsonschema
    except ImportError:
        return list(mini_validate(doc, schema, schema, "$"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}"
            for e in cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc)]


_TYPES = {"object": dict, "array": list, "string": str, "null": type(None),
          "boolean": bool}


def _is_type(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, _TYPES[t])


def mini_validate(v, s, root, path):
    """The subset of draft 2020-12 that docs/report-schema.json uses."""
    if "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/"), ref
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        yield from mini_validate(v, target, root, path)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is_type(v, t) for t in types):
            yield f"{path}: {v!r} is not of type {types}"
            return
    if "const" in s and v != s["const"]:
        yield f"{path}: {v!r} is not {s['const']!r}"
    if "enum" in s and v not in s["enum"]:
        yield f"{path}: {v!r} is not one of {s['enum']}"
    if isinstance(v, str):
        if "pattern" in s and not re.search(s["pattern"], v):
            yield f"{path}: {v!r} does not match {s['pattern']!r}"
        if len(v) < s.get("minLength", 0):
            yield f"{path}: {v!r} is too short"
    if isinstance(v, int) and not isinstance(v, bool) and v < s.get("minimum", v):
        yield f"{path}: {v} is less than {s['minimum']}"
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                yield f"{path}: {k!r} is a required property"
        props = s.get("properties", {})
        for k, x in v.items():
            if k in props:
                yield from mini_validate(x, props[k], root, f"{path}/{k}")
            elif s.get("additionalProperties") is False:
                yield f"{path}: additional property {k!r}"
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0):
            yield f"{path}: too few items"
        if s.get("uniqueItems") and len({json.dumps(x, sort_keys=True) for x in v}) != len(v):
            yield f"{path}: items are not unique"
        if "items" in s:
            for i, x in enumerate(v):
                yield from mini_validate(x, s["items"], root, f"{path}/{i}")


# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    args = ["--impl", "node"]
    for sid in node_ids():
        args += ["--scenario", sid]
    rc, output = run_suite(*args, report_dir=out, timeout=120)
    assert rc in (0, 1), output
    found = list(out.glob("node@node*.json"))
    assert len(found) == 1, f"no report written:\n{output}"
    path = found[0]
    return json.loads(path.read_text(encoding="utf-8"))


def test_schema_is_versioned_and_documented():
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"]["const"] == 1
    from listen_conformance import report
    assert report.SCHEMA_VERSION == 1

    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for key in ("properties", "$defs"):
                for name, sub in node.get(key, {}).items():
                    if not isinstance(sub, dict) or not sub.get("description"):
                        missing.append(f"{path}/{key}/{name}")
                    walk(sub, f"{path}/{key}/{name}")
            if isinstance(node.get("items"), dict):
                walk(node["items"], path + "/items")
    walk(schema, "#")
    assert not missing, "fields without a description: " + ", ".join(missing)


def test_schema_names_every_field_report_py_writes(report):
    schema = load_schema()
    assert set(report) <= set(schema["properties"]), set(report) - set(schema["properties"])
    result_props = schema["$defs"]["result"]["properties"]
    for sc in report["scenarios"]:
        assert set(sc) <= set(result_props), set(sc) - set(result_props)


def test_real_report_is_valid(report):
    assert [sc["id"] for sc in report["scenarios"]] == node_ids()
    assert errors(report, load_schema()) == []


def test_mini_validator_agrees_on_the_real_report(report):
    schema = load_schema()
    assert list(mini_validate(report, schema, schema, "$")) == []


def _break(report, how):
    doc = copy.deepcopy(report)
    if how == "version":
        doc["schema_version"] = 2
    elif how == "verdict":
        doc["scenarios"][0]["verdict"] = "MAYBE"
    elif how == "missing-summary":
        del doc["summary"]
    elif how == "summary-key":
        doc["summary"]["ERROR"] = 1
    elif how == "clauses-empty":
        doc["scenarios"][0]["clauses"] = []
    elif how == "level-text":
        doc["levels"]["conforms"] = "maybe"
    elif how == "count-type":
        doc["summary"]["PASS"] = "2"
    elif how == "runner":
        doc["runner"] = "python"
    elif how == "created":
        doc["created"] = "yesterday"
    return doc


@pytest.mark.parametrize("how", ["version", "verdict", "missing-summary", "summary-key",
                                 "clauses-empty", "level-text", "count-type", "runner",
                                 "created"])
def test_broken_report_is_rejected(report, how):
    schema = load_schema()
    doc = _break(report, how)
    assert errors(doc, schema), f"the schema accepted a report broken by {how}"
    assert list(mini_validate(doc, schema, schema, "$")), how


def test_report_of_a_failing_run_is_valid(tmp_path):
    """A report with non-PASS verdicts, `expected` fields and a stale entry."""
    f = tmp_path / "expect.toml"
    sid = node_ids(1)[0]
    f.write_text(f'[expect."{sid}"]\nverdict = "FAIL"\nreason = "thought broken"\n\n'
                 '[expect."gone.renamed-entry"]\nverdict = "FAIL"\nreason = "old"\n')
    rc, output = run_suite("--impl", "node", "--scenario", sid,
                           "--expectations", str(f), report_dir=tmp_path, timeout=120)
    assert rc == 1, output
    (found,) = tmp_path.glob("node@node*.json")
    doc = json.loads(found.read_text())
    assert doc["scenarios"][0]["expected"] == "FAIL"
    assert doc["stale_expectations"] == ["gone.renamed-entry"]
    assert errors(doc, load_schema()) == []
