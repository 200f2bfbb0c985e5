"""The run's report: build/reports/<impl>.json (schema: docs/report-schema.json)
beside a JUnit XML file for CI systems."""
from __future__ import annotations

import datetime
import json
import pathlib
import re
import xml.etree.ElementTree as ET

SCHEMA_VERSION = 1
VERDICTS = ("PASS", "FAIL", "SKIP", "CRASH", "TIMEOUT")


def counts(results) -> dict:
    out = {v: 0 for v in VERDICTS}
    for r in results:
        out[r["lc_verdict"]] = out.get(r["lc_verdict"], 0) + 1
    return out


def levels(results) -> dict:
    """'conforms': every MUST scenario that ran passed; 'node_identical': every
    scenario that ran passed.  'yes'/'no'/'n/a' with the failing count."""
    results = list(results)

    def judge(rs):
        ran = [r for r in rs if r["lc_verdict"] != "SKIP"]
        bad = [r for r in ran if r["lc_verdict"] != "PASS"]
        if not ran:
            return "n/a"
        return "yes" if not bad else f"no ({len(bad)} of {len(ran)} not PASS)"
    return {"conforms": judge([r for r in results if r["level"] == "must"]),
            "node_identical": judge(results)}


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "impl"


def write(out_dir: pathlib.Path, suite, stale) -> list[pathlib.Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = safe_name(suite.impl.name)
    results = [suite.results[s["id"]] for s in suite.table if s["id"] in suite.results]
    info = getattr(suite, "info", {}) or {}
    doc = {
        "schema_version": SCHEMA_VERSION,
        "implementation": suite.impl.name,
        "impl_spec": suite.impl_spec,
        "runner": suite.impl.kind,
        "impl_version": info.get("impl_version"),
        "node_version": info.get("node_version"),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "summary": counts(results),
        "levels": levels(results),
        "expectations": str(suite.expect.path) if suite.expect and suite.expect.path else None,
        "unexpected": [r["id"] for r in results if r.get("unexpected")],
        "stale_expectations": stale,
        "scenarios": [{
            "id": r["id"], "clauses": list(r["clauses"]), "level": r["level"],
            "applies": r["applies"], "verdict": r["lc_verdict"], "message": r["message"],
            **({"expected": r["expected"]} if r.get("expected") else {}),
        } for r in results],
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
