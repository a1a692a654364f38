"""The build's provenance: an in-toto Statement v1 whose predicate is SLSA Provenance v1, written
beside summary.json after a build. Its subjects are the artifacts summary.json lists (each with
its sha256; the provenance itself, written last, is not among them), its build definition what
was built and from what (line, board, machine, the kas command; Zephyr and the OpenBMC recipes'
sources at their commits, the toolchain by checksum, the layer's workspace at its commit), its
run details who built it and when. Checked in tests against the in-toto attestation framework's
own bindings (in-toto-attestation: the Statement and Provenance protos, strict on field names).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cmu610bsp.sbom import Facts, Source

STATEMENT = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://cmu610bsp.invalid/build/kas-bitbake/v1"
BUILDER = "https://cmu610bsp.invalid/builder/cmu610bsp-build"


@dataclass(frozen=True)
class Run:
    """This run: the command kas ran, the workspace's commit (None outside git or uncommitted
    changes unknown), when it started and finished (ISO 8601, UTC)."""

    command: str
    target: str
    workspace_commit: str | None
    started: str
    finished: str


def _dependency(src: Source) -> dict[str, object]:
    if src.url and src.commit:
        return {"name": src.name, "uri": f"git+{src.url}@{src.commit}", "digest": {"gitCommit": src.commit}}
    out: dict[str, object] = {"name": src.name, "annotations": {"localCheckout": src.local or ""}}
    if src.commit:
        out["digest"] = {"gitCommit": src.commit}
    if src.local:
        out["uri"] = Path(src.local).resolve().as_uri()      # percent-encoded: a space or # stays a path
    return out


def statement(facts: Facts, run: Run, subjects: Iterable[tuple[str, str]]) -> dict[str, object]:
    """The Statement (JSON-ready): `subjects` are (path relative to the build directory, sha256)."""
    deps: list[dict[str, object]] = [_dependency(facts.zephyr), *(_dependency(c) for c in facts.components)]
    tool: dict[str, object] = {"name": f"toolchain {facts.toolchain}"}
    if facts.toolchain_sha256:
        tool["digest"] = {"sha256": facts.toolchain_sha256}
    deps.append(tool)
    if run.workspace_commit:
        deps.append({"name": "workspace", "digest": {"gitCommit": run.workspace_commit},
                     "annotations": {"holds": "the board description and the generated meta-cmu610 layer"}})
    subject: Sequence[dict[str, object]] = [{"name": name, "digest": {"sha256": sha}} for name, sha in sorted(subjects)]
    return {
        "_type": STATEMENT,
        "subject": list(subject),
        "predicateType": SLSA_PROVENANCE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"line": facts.line, "board": facts.board, "machine": facts.machine,
                                       "target": run.target, "command": run.command},
                "internalParameters": {"generator": facts.generator},
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": {"id": BUILDER, "version": {"cmu610bsp": facts.generator.rpartition(" ")[2]}},
                "metadata": {"invocationId": f"{facts.line}/{facts.machine}/{run.started}",
                             "startedOn": run.started, "finishedOn": run.finished},
            },
        },
    }
