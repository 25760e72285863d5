"""Validates FHIR R4 resources with an implementation independent of Islet.

Reads NDJSON on stdin, one resource per line, and prints one JSON object per
line: {"line": N, "resourceType": ..., "id": ..., "errors": [...]} (no
"errors" key when the resource is valid). Exit status: 0 all valid, 1 some
invalid, 2 usage error. Run it with the python that
scripts/ensure-fhir-validator prints.

What is checked:
- the fhir.resources R4B model of the line's resourceType (R4B reads R4 for
  the types Islet writes): element names (unknown ones refused), cardinality,
  required elements, primitive formats (id, uri, dateTime, date, code, ...),
  contained resources, the resourceType of every nested resource;
- what the models leave out, from the R4 specification: the codes of the
  required bindings of the elements Islet writes (REQUIRED_CODES below);
  the target types of every Reference (from the models' own metadata);
  contained resources that are referenced, and references to "#id" that
  resolve (dom-3);
- no empty strings, arrays or objects anywhere (ele-1).
"""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel

# R4 required bindings of the coded elements Islet writes: path → codes.
REQUEST_STATUS = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
REQUEST_INTENT = {
    "proposal", "plan", "directive", "order", "original-order", "reflex-order",
    "filler-order", "instance-order", "option",
}
REQUIRED_CODES = {
    "DetectedIssue.status": {
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    },
    "DetectedIssue.severity": {"high", "moderate", "low"},
    "Task.status": {
        "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
        "in-progress", "on-hold", "failed", "completed", "entered-in-error",
    },
    "Task.intent": {
        "unknown", "proposal", "plan", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option",
    },
    "RequestGroup.status": REQUEST_STATUS,
    "RequestGroup.intent": REQUEST_INTENT,
    "RequestGroup.priority": {"routine", "urgent", "asap", "stat"},
    "RequestGroup.action.selectionBehavior": {
        "any", "all", "all-or-none", "exactly-one", "at-most-one", "one-or-more",
    },
    "RequestGroup.action.groupingBehavior": {"visual-group", "logical-group", "sentence-group"},
    "RequestGroup.action.requiredBehavior": {"must", "could", "must-unless-documented"},
    "ServiceRequest.status": REQUEST_STATUS,
    "ServiceRequest.intent": REQUEST_INTENT,
    "MedicationRequest.status": {
        "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown",
    },
    "MedicationRequest.intent": {
        "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
        "instance-order", "option",
    },
}


def reference_type(reference, contained):
    """The resource type a reference names, or None when it names none."""
    if reference.startswith("#"):
        return contained.get(reference[1:])
    path = reference.split("/_history/")[0].split("/")
    return path[-2] if len(path) >= 2 else None


def walk(model, path, contained, errors, used):
    """Checks codes and reference targets under `model`, at `path` (Type.element)."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        element = field.alias or name
        # Nested actions share the codes of the top-level ones.
        here = path if path.endswith(".action") and element == "action" else f"{path}.{element}"
        for item in value if isinstance(value, list) else [value]:
            allowed = (field.json_schema_extra or {}).get("enum_reference_types")
            if allowed and isinstance(item, BaseModel) and getattr(item, "reference", None):
                target = reference_type(item.reference, contained)
                if item.reference.startswith("#"):
                    used.add(item.reference[1:])
                    if target is None:
                        errors.append(f"{here}: {item.reference} names no contained resource")
                if target is not None and "Resource" not in allowed and target not in allowed:
                    errors.append(f"{here}: a reference to {target}; allowed: {', '.join(allowed)}")
            codes = REQUIRED_CODES.get(here)
            if codes and isinstance(item, str) and item not in codes:
                errors.append(f"{here}: {item!r} is not a code of its required value set")
            if element == "contained":
                continue  # checked as resources of their own
            if isinstance(item, BaseModel):
                walk(item, here, contained, errors, used)


def empty_values(value, path, errors):
    """ele-1: every element has a value or children."""
    if value == "" or value == [] or value == {}:
        errors.append(f"{path}: empty")
    elif isinstance(value, dict):
        for k, v in value.items():
            empty_values(v, f"{path}.{k}", errors)
    elif isinstance(value, list):
        for v in value:
            empty_values(v, path, errors)


def validate(resource):
    errors = []
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(rtype, str):
        return ["no resourceType"]
    try:
        model_class = get_fhir_model_class(rtype)
    except Exception:  # noqa: BLE001 - the library raises a plain error for unknown names
        return [f"unknown resourceType {rtype!r}"]
    try:
        model = model_class.model_validate(resource)
    except Exception as e:  # noqa: BLE001 - pydantic's ValidationError and the library's own
        return [str(e)]
    empty_values(resource, rtype, errors)
    contained = {c.get("id"): c.get("resourceType") for c in resource.get("contained", []) or []}
    used = set()
    walk(model, rtype, contained, errors, used)
    for c in model.contained or []:
        walk(c, c.get_resource_type(), contained, errors, used)
    for cid in contained:
        if cid not in used:
            errors.append(f"{rtype}.contained: {cid!r} is not referenced (dom-3)")
    return errors


def main():
    if len(sys.argv) != 1:
        print("usage: fhir-validate.py < resources.ndjson", file=sys.stderr)
        return 2
    invalid = 0
    for n, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as e:
            resource, errors = None, [f"not JSON: {e}"]
        else:
            errors = validate(resource)
        result = {"line": n}
        if isinstance(resource, dict):
            result["resourceType"] = resource.get("resourceType")
            result["id"] = resource.get("id")
        if errors:
            invalid += 1
            result["errors"] = errors
        print(json.dumps(result), flush=False)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
