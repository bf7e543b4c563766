"""Derive the committed data files under ``dip/spec/<version>/`` from the official DIP spec.

Usage (developers only; the generated JSON is committed, nothing reads the YAML at run time)::

    python -m dip.spec.build --git-dir /path/to/dip-api-documentation.git [--ref v2.1.0]

Source: ``elexon-data/dip-api-documentation`` (OpenAPI 3.0 YAML, "unresolved" files whose
cross-file ``$ref`` values point at raw.githubusercontent.com). What this script does:

1. Loads ``Interfaces-EventCodes``, ``RealCommonBlocks``, ``DataCatalogue``, ``DataTypes`` and
   ``SubmitEvents`` at ``--ref`` and maps every raw.githubusercontent URL to the local file.
2. Converts OpenAPI 3.0 to JSON Schema draft-07: ``nullable: true`` becomes ``type: [T, "null"]``
   (and ``null`` is added to enums); ``description``/``example``/``format`` are dropped
   (``format: byte``/``email`` are documentation only for our purposes).
3. Inlines the leaf data items (``DI-nnn``/``DT-nnn``) and keeps every ``RealCommonBlocks``
   block (``S1``, ``D0``, ``B900`` ...) as a named definition, referenced as
   ``#/definitions/<name>``. Each ``IF-xxx``/``REP-xxx`` payload variant becomes one schema.
4. The optional ``CustomBlock.schema`` property of ``REP-xxx`` payloads points into
   ``ECS-Reports``; it documents the decompressed report and is never populated (DIN-731), so it
   is emitted as ``{"type": "object"}``.
5. Sender/recipient roles and interface names come from ``/work/shared/dip/interfaces.csv``
   (DES138 catalogue, see PROTOCOL.md §10): the official YAML carries no routing.
6. Writes ``catalogue.json`` (interfaces, event codes, schema versions, block lists, roles)
   and ``schemas.json`` (definitions + one payload schema per variant + StandardResponse).

Spec version 2.2.1: the official repository only holds 2.1.0. PROTOCOL.md §8 records that
2.2.1 keeps the interfaces, event codes, schema versions and blocks, and changes the SUR regex
(DT-995/DT-995N) to ``\\d{3}[A-B]?``. ``2.2.1`` is therefore generated as 2.1.0 plus that
delta (``DELTAS_2_2_1`` below); extend the table when more differences are confirmed.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RAW = "https://raw.githubusercontent.com/elexon-data/dip-api-documentation/main/"
FILES = ("Interfaces-EventCodes", "RealCommonBlocks", "DataCatalogue", "DataTypes", "SubmitEvents")
INLINE_FILES = ("DataCatalogue", "DataTypes")
KEEP = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "maxLength",
    "minLength",
    "items",
    "pattern",
    "oneOf",
    "anyOf",
    "allOf",
    "maximum",
    "minimum",
    "minItems",
    "maxItems",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "uniqueItems",
    "multipleOf",
}
COMMON_ORDER = ("S0", "S1", "S2", "A0", "D0", "M0", "M1", "R0", "R1")
SUR_2_1_0 = r"^S-((IF|REP)-)?\d{3,4}-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$"
SUR_2_2_1 = r"^S-((IF|REP)-)?\d{3}[A-B]?-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$"
DELTAS_2_2_1 = {"sur_pattern": (SUR_2_1_0, SUR_2_2_1)}
ROLE_CODE = re.compile(r"^[A-Za-z]{3,5}$")

Node = Any


def load_yaml(git_dir: str, ref: str, name: str) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - developer tool, fixed argv
        ["git", f"--git-dir={git_dir}", "show", f"{ref}:{name}-unresolved.yaml"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    data: dict[str, Any] = yaml.safe_load(out)
    return data


class Converter:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = {k: v["components"]["schemas"] for k, v in docs.items()}
        self.definitions: dict[str, Node] = {}
        self._pending: list[str] = []

    def split_ref(self, ref: str, current: str) -> tuple[str, str]:
        if ref.startswith(RAW):
            file_part, _, frag = ref[len(RAW) :].partition("#")
            current = file_part.removesuffix("-unresolved.yaml")
        else:
            frag = ref.partition("#")[2]
        return current, frag.rsplit("/", 1)[-1]

    def convert(self, node: Node, current: str) -> Node:
        if isinstance(node, list):
            return [self.convert(n, current) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            file, name = self.split_ref(node["$ref"].strip(), current)
            if file == "ECS-Reports":
                target: Node = {"type": "object"}
            elif file in INLINE_FILES or file == "Interfaces-EventCodes":
                target = self.convert(self.docs[file][name], file)
            else:
                key = name if file == "RealCommonBlocks" else f"{file}.{name}"
                if key not in self.definitions:
                    self.definitions[key] = None
                    self.definitions[key] = self.convert(self.docs[file][name], file)
                target = {"$ref": f"#/definitions/{key}"}
            if node.get("nullable"):
                target = make_nullable(target)
            return target
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {k: self.convert(v, current) for k, v in value.items()}
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = self.convert(value, current)
            elif key in ("oneOf", "anyOf", "allOf"):
                out[key] = [self.convert(v, current) for v in value]
            elif key in KEEP:
                out[key] = copy.deepcopy(value)
        if node.get("nullable"):
            out = make_nullable(out)
        return out


def make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [{"type": "null"}, schema]}
    out = dict(schema)
    t = out["type"]
    out["type"] = [t, "null"] if isinstance(t, str) else [*t, "null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def variants_of(payload_name: str, ifs: dict[str, Any]) -> list[str]:
    node = ifs[payload_name]
    if "oneOf" in node:
        return [r["$ref"].rsplit("/", 1)[-1] for r in node["oneOf"]]
    return [payload_name]


def read_roles(csv_path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    with csv_path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):

            def roles(text: str) -> list[str]:
                return [r for r in text.split(";") if r and ROLE_CODE.match(r)]

            rows[row["interface_id"]] = {
                "name": row["name"],
                "sender_roles": roles(row["sender_roles"]),
                "recipient_roles": roles(row["recipient_roles"]),
                "notes": row["notes"],
            }
    return rows


def build(git_dir: str, ref: str, csv_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = {name: load_yaml(git_dir, ref, name) for name in FILES}
    spec_version = str(docs["SubmitEvents"]["info"]["version"])
    conv = Converter(docs)
    ifs = conv.docs["Interfaces-EventCodes"]
    submit = conv.docs["SubmitEvents"]
    payloads = [
        r["$ref"].rsplit("/", 1)[-1] for r in submit["DIPMessage"]["properties"]["payload"]["oneOf"]
    ]
    roles = read_roles(csv_path)
    interfaces: dict[str, Any] = {}
    variants: dict[str, Any] = {}
    for payload in payloads:
        for vname in variants_of(payload, ifs):
            schema = conv.convert(ifs[vname], "Interfaces-EventCodes")
            variants[vname] = schema
            common = schema["properties"]["CommonBlock"]
            s0 = common["properties"]["S0"]["properties"]
            interface_id = s0["interfaceID"]["enum"][0]
            custom = schema["properties"].get("CustomBlock")
            entry = interfaces.setdefault(
                interface_id,
                {
                    "interface_id": interface_id,
                    **roles.get(interface_id, {"name": "", "notes": ""}),
                    "sender_roles": roles.get(interface_id, {}).get("sender_roles", []),
                    "recipient_roles": roles.get(interface_id, {}).get("recipient_roles", []),
                    "schema_versions": [],
                    "event_codes": [],
                    "variants": [],
                },
            )
            for sv in s0["schemaVersion"]["enum"]:
                if sv not in entry["schema_versions"]:
                    entry["schema_versions"].append(sv)
            codes = list(s0["eventCode"]["enum"])
            entry["event_codes"].extend(c for c in codes if c not in entry["event_codes"])
            allowed = [b for b in COMMON_ORDER if b in common["properties"]]
            entry["variants"].append(
                {
                    "schema": vname,
                    "event_codes": codes,
                    "common_required": [b for b in COMMON_ORDER if b in common["required"]],
                    "common_optional": [b for b in allowed if b not in common["required"]],
                    "custom_block": custom is not None,
                    "custom_required": list((custom or {}).get("required", [])),
                    "custom_optional": [
                        k
                        for k in (custom or {}).get("properties", {})
                        if k not in (custom or {}).get("required", [])
                    ],
                }
            )
    srb = conv.convert(submit["StandardResponseBodyType"], "SubmitEvents")
    catalogue = {"spec_version": spec_version, "source_ref": ref, "interfaces": interfaces}
    schemas = {
        "spec_version": spec_version,
        "definitions": conv.definitions,
        "variants": variants,
        "standard_response_body": srb,
    }
    return catalogue, schemas


def derive_2_2_1(catalogue: dict[str, Any], schemas: dict[str, Any]) -> tuple[Any, Any]:
    old, new = DELTAS_2_2_1["sur_pattern"]
    text = json.dumps(schemas).replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    schemas2 = json.loads(text)
    schemas2["spec_version"] = "2.2.1"
    catalogue2 = copy.deepcopy(catalogue)
    catalogue2["spec_version"] = "2.2.1"
    catalogue2["source_ref"] = f"{catalogue['source_ref']} + PROTOCOL.md §8 deltas"
    return catalogue2, schemas2


def write(version: str, catalogue: Any, schemas: Any) -> None:
    out = HERE / version
    out.mkdir(exist_ok=True)
    for name, data in (("catalogue.json", catalogue), ("schemas.json", schemas)):
        text = json.dumps(data, indent=1, ensure_ascii=True, sort_keys=False)
        (out / name).write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--ref", default="v2.1.0")
    parser.add_argument("--csv", default="/work/shared/dip/interfaces.csv")
    args = parser.parse_args(argv)
    catalogue, schemas = build(args.git_dir, args.ref, Path(args.csv))
    write(catalogue["spec_version"], catalogue, schemas)
    write("2.2.1", *derive_2_2_1(catalogue, schemas))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
