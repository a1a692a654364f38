"""An SBOM checked by the SPDX project's own tools, offline: spdx-python-model (the model's
generated bindings: every type and property known, values of their types, and on writing back
every required property present and every count within bounds) and spdx3-validate (SPDX's JSON
schema and SHACL shapes), handed the model files it would fetch from spdx.org from
tests/fixtures/spdx-3.0.1 (SOURCES.md there)."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

MODEL = Path(__file__).parent / "fixtures" / "spdx-3.0.1"
_LOCAL = {
    "https://spdx.org/rdf/3.0.1/spdx-context.jsonld": "spdx-context.jsonld",
    "https://spdx.org/rdf/3.0.1/spdx-model.ttl": "spdx-model.ttl",
    "https://spdx.org/schema/3.0.1/spdx-json-schema.json": "schema.json",
}


class _Local(urllib.request.BaseHandler):
    """Answers the model's three URLs from the local copies; any other URL is refused (a check
    that needs the network would pass here and fail in CI)."""

    handler_order = 100    # before urllib's own https handler

    def https_open(self, req: urllib.request.Request) -> Any:
        name = _LOCAL.get(req.full_url)
        if name is None:
            raise urllib.error.URLError(f"offline: {req.full_url} is not one of the SPDX model's files")
        data = (MODEL / name).read_bytes()
        headers = Message()
        headers["Content-Type"] = "application/ld+json" if name.endswith(".jsonld") else (
            "text/turtle" if name.endswith(".ttl") else "application/json")
        response = urllib.response.addinfourl(io.BytesIO(data), headers, req.full_url, 200)
        response.msg = "OK"
        return response


@contextmanager
def offline_model() -> Iterator[None]:
    previous = urllib.request._opener  # type: ignore[attr-defined]
    urllib.request.install_opener(urllib.request.build_opener(_Local()))
    try:
        yield
    finally:
        urllib.request._opener = previous  # type: ignore[attr-defined]


def manifest_hashes(data: Any, key: str = "") -> set[str]:
    """Every sha256 a flash manifest holds: the value of any key named sha256 or ending in _sha256
    (a string, or a list of them), anywhere in it."""
    if isinstance(data, dict):
        return {h for k, v in data.items() for h in manifest_hashes(v, k)}
    if isinstance(data, list):
        return {h for v in data for h in manifest_hashes(v, key)}
    return {data} if isinstance(data, str) and (key == "sha256" or key.endswith("_sha256")) else set()


def sbom_hashes(doc: dict[str, Any]) -> set[str]:
    """Every sha256 an SPDX 3 document verifies something by."""
    return {h["hashValue"] for e in doc["@graph"] for h in e.get("verifiedUsing", []) if h.get("algorithm") == "sha256"}


def model_errors(path: Path) -> list[str]:
    """What spdx-python-model refuses in the document: reading it (types, properties, values) and
    writing it back (required properties, counts)."""
    from spdx_python_model import v3_0_1 as spdx

    objects = spdx.SHACLObjectSet()
    try:
        with path.open("rb") as f:
            spdx.JSONLDDeserializer().read(f, objects)
        spdx.JSONLDSerializer().write(objects, io.BytesIO())
    except (KeyError, TypeError, ValueError) as e:
        return [f"{type(e).__name__}: {e}"]
    return []


def validate_errors(path: Path) -> list[str]:
    """What spdx3-validate reports on the document (JSON schema and SHACL), offline."""
    from spdx3_validate import core

    with offline_model():
        return [str(e) for e in core.validate(str(path), version="3.0.1").errors]
