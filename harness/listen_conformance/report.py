"""The run's report: build/reports/<impl>.json (schema: docs/report-schema.json)
beside a JUnit XML file for CI systems."""
from __future__ import annotations

import datetime
import json
import pathlib
import re
import xml.etree.ElementTree as ET

from . import causes
from .levels import known_divergences
from .verdicts import counts, levels

SCHEMA_VERSION = 1


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "impl"


def write(out_dir: pathlib.Path, suite, stale) -> list[pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    judged = getattr(suite, "judged_as", None) or {}
    # One report per implementation and Node line: node 20, 22 and 24 (or one
    # C library judged as each line) do not overwrite each other.
    name = safe_name(suite.impl.name) + (f"@node{judged['line']}" if judged.get("line") else "")
    results = [suite.results[s["id"]] for s in suite.table if s["id"] in suite.results]
    aliases = {s["id"]: s.get("aliases") or [] for s in suite.table}
    info = getattr(suite, "info", {}) or {}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "implementation": suite.impl.name,
        "impl_spec": suite.impl_spec,
        "runner": suite.impl.kind,
        "impl_version": info.get("impl_version"),
        "node_version": info.get("node_version") if suite.impl.kind == "js" else None,
        "judged_as": judged or None,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": counts(r.verdict for r in results),
        "levels": levels(results, interrupted=getattr(suite, "interrupted", False)),
        "interrupted": bool(getattr(suite, "interrupted", False)),
        "selected": len(suite.selected),
        "expectations": str(suite.expect.path) if suite.expect and suite.expect.path else None,
        "unexpected": [r.id for r in results if r.unexpected],
        "stale_expectations": stale,
        "known_divergences": known_divergences(suite),
        "scenarios": [{
            "id": r.id, "clauses": list(r.clauses), "level": r.level,
            "applies": r.applies, "verdict": r.verdict, "must_verdict": r.must_verdict,
            "message": r.message,
            **({"aliases": list(aliases[r.id])} if aliases.get(r.id) else {}),
            **({"expected": r.expected} if r.expected else {}),
            **({"cause": r.cause} if r.cause else {}),
        } for r in results],
        "causes": [c.to_dict() for c in causes.for_session(suite)],
    }
    jpath = out_dir / f"{name}.json"
    jpath.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    xpath = out_dir / f"{name}.xml"
    junit(doc).write(xpath, encoding="utf-8", xml_declaration=True)
    return [jpath, xpath]


def junit(doc) -> ET.ElementTree:
    s = doc["summary"]
    suite = ET.Element("testsuite", name=f"listen-conformance.{doc['implementation']}",
                       tests=str(sum(s.values())), failures=str(s["FAIL"]),
                       errors=str(s["CRASH"] + s["TIMEOUT"]), skipped=str(s["SKIP"]))
    for sc in doc["scenarios"]:
        case = ET.SubElement(suite, "testcase", classname=sc["id"].split(".")[0],
                             name=sc["id"])
        v = sc["verdict"]
        if v == "SKIP":
            ET.SubElement(case, "skipped", message=sc["message"][:500])
        elif v == "FAIL":
            ET.SubElement(case, "failure", message=sc["message"].splitlines()[0][:500]
                          if sc["message"] else "FAIL").text = sc["message"]
        elif v in ("CRASH", "TIMEOUT"):
            ET.SubElement(case, "error", type=v, message=sc["message"][:500]).text = sc["message"]
        props = ET.SubElement(case, "properties")
        for c in sc["clauses"]:
            ET.SubElement(props, "property", name="clause", value=c)
    return ET.ElementTree(suite)
