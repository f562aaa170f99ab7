#!/usr/bin/env python3
"""Validate an `emreg export --format fhir` bundle with the fhir.resources R4B models.

Usage: scripts/validate_fhir.py BUNDLE.json

Checks:
  * the whole file parses as an R4B Bundle (pydantic models of fhir.resources: element names,
    types, cardinalities, choice types, primitive formats such as dates);
  * it is a Bundle of type collection whose entries each have a resource;
  * every fullUrl is urn:uuid:<resource.id> with a lower-case UUID, and no fullUrl repeats;
  * every Reference.reference anywhere in a resource resolves to a fullUrl of the bundle;
  * no null, empty string, empty array or empty object (FHIR JSON forbids them);
  * codes with required bindings that the models leave unchecked: Patient.gender,
    Observation.status, Procedure.status, Condition clinical/verification status.

Prints a JSON summary (resources by type, references checked, errors) on stdout and exits 0
when valid, 1 when not, 2 when fhir.resources (R4B) is not installed.
"""

import json
import re
import sys

try:
    from fhir.resources.R4B.bundle import Bundle
except ImportError as exc:  # a missing validator must fail the test, never skip it
    print(json.dumps({"valid": False, "errors": [f"fhir.resources R4B is not installed: {exc}"]}))
    sys.exit(2)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
GENDERS = {"male", "female", "other", "unknown"}
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                      "entered-in-error", "unknown"}
PROCEDURE_STATUS = {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                    "entered-in-error", "unknown"}
CLINICAL = ("http://terminology.hl7.org/CodeSystem/condition-clinical",
            {"active", "recurrence", "relapse", "inactive", "remission", "resolved"})
VERIFICATION = ("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                {"unconfirmed", "provisional", "differential", "confirmed", "refuted",
                 "entered-in-error"})
MAX_ERRORS = 50


def references(node, path):
    """Yields (path, reference) for every Reference.reference below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield path, value
            else:
                yield from references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from references(value, f"{path}[{i}]")


def empties(node, path):
    """Yields paths of values FHIR JSON forbids: null, "", [] and {}."""
    if node is None or node == "" or node == [] or node == {}:
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from empties(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from empties(value, f"{path}[{i}]")


def coded(concept, system, allowed):
    codings = (concept or {}).get("coding") or []
    return any(c.get("system") == system and c.get("code") in allowed for c in codings)


def check_codes(resource, where, errors):
    kind = resource.get("resourceType")
    if kind == "Patient" and "gender" in resource and resource["gender"] not in GENDERS:
        errors.append(f"{where}: gender {resource['gender']!r} is not administrative-gender")
    if kind == "Observation" and resource.get("status") not in OBSERVATION_STATUS:
        errors.append(f"{where}: Observation.status {resource.get('status')!r}")
    if kind == "Procedure" and resource.get("status") not in PROCEDURE_STATUS:
        errors.append(f"{where}: Procedure.status {resource.get('status')!r}")
    if kind == "Condition":
        verification = resource.get("verificationStatus")
        if verification is not None and not coded(verification, *VERIFICATION):
            errors.append(f"{where}: Condition.verificationStatus is not condition-ver-status")
        clinical = resource.get("clinicalStatus")
        if clinical is not None and not coded(clinical, *CLINICAL):
            errors.append(f"{where}: Condition.clinicalStatus is not condition-clinical")
        if clinical is None and not coded(verification, VERIFICATION[0], {"entered-in-error"}):
            errors.append(f"{where}: Condition without clinicalStatus (con-3)")


def validate(path):
    errors = []
    with open(path, "rb") as f:
        text = f.read()
    try:
        Bundle.model_validate_json(text)
    except Exception as exc:  # pydantic.ValidationError or a JSON syntax error
        errors.append(f"fhir.resources R4B: {exc}")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {"valid": False, "errors": errors + [f"not JSON: {exc}"]}

    if data.get("resourceType") != "Bundle" or data.get("type") != "collection":
        errors.append("not a Bundle of type collection")
    if data.get("entry") == []:
        errors.append("entry is an empty array (FHIR JSON forbids empty arrays)")
    entries = data.get("entry") or []
    full_urls = set()
    by_type = {}
    for i, entry in enumerate(entries):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            errors.append(f"entry[{i}]: no resource")
            continue
        kind = resource.get("resourceType", "?")
        by_type[kind] = by_type.get(kind, 0) + 1
        rid = resource.get("id", "")
        full_url = entry.get("fullUrl")
        if not UUID.match(rid):
            errors.append(f"entry[{i}] {kind}: id {rid!r} is not a lower-case UUID")
        if full_url != f"urn:uuid:{rid}":
            errors.append(f"entry[{i}] {kind}: fullUrl {full_url!r} is not urn:uuid:<id>")
        if full_url in full_urls:
            errors.append(f"entry[{i}] {kind}: fullUrl {full_url!r} repeats")
        full_urls.add(full_url)
        check_codes(resource, f"entry[{i}] {kind}", errors)
        for where in empties(resource, f"entry[{i}].resource"):
            errors.append(f"{where}: empty or null value")

    checked = 0
    for i, entry in enumerate(entries):
        resource = entry.get("resource") or {}
        for where, ref in references(resource, f"entry[{i}].resource"):
            checked += 1
            if ref not in full_urls:
                errors.append(f"{where}: reference {ref!r} does not resolve in the bundle")

    summary = {
        "valid": not errors,
        "entries": len(entries),
        "resources": dict(sorted(by_type.items())),
        "references": checked,
        "errors": errors[:MAX_ERRORS],
    }
    if len(errors) > MAX_ERRORS:
        summary["moreErrors"] = len(errors) - MAX_ERRORS
    return summary


def main():
    if len(sys.argv) != 2:
        print("usage: validate_fhir.py BUNDLE.json", file=sys.stderr)
        return 2
    summary = validate(sys.argv[1])
    print(json.dumps(summary, indent=2))
    return 0 if summary["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
