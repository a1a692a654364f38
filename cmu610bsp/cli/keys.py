"""`cmu610bsp keys generate|show|rotate`: the workspace's image signing key (cmu610bsp/keys.py).
Each imports what it runs when it runs (cli/__init__.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from cmu610bsp.cli.common import DebugOpt, JsonOpt, WorkspaceOpt, open_ws
from cmu610bsp.errors import CheckFailed

app = typer.Typer(help="The image signing key: outside git, or in an HSM (PKCS#11).", no_args_is_help=True)

Pkcs11Opt = Annotated[str | None, typer.Option(
    "--pkcs11", metavar="URI", show_default=False,
    help="Make the key in a PKCS#11 token: pkcs11:token=LABEL;object=LABEL[?module-path=...&pin-source=file:...] "
         "(else $PKCS11_MODULE, $PKCS11_PIN). Default: a PEM in the key cache.")]


@app.command("generate")
def generate(
    algorithm: Annotated[str, typer.Option("--algorithm", metavar="ALG", help="ed25519 (verified at boot).")] = "ed25519",
    pkcs11: Pkcs11Opt = None,
    workspace: WorkspaceOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Make the workspace's signing key (slot 0) and record its public half in cmu610bsp.yml."""
    from cmu610bsp import keys, ui

    rec = keys.generate(open_ws(workspace, debug), algorithm, pkcs11)
    ui.out.print(f"{rec.algorithm} signing key in slot 0 (sha256 {rec.slots[0].sha256}): {keys.reference(rec)}")


@app.command("rotate")
def rotate(pkcs11: Pkcs11Opt = None, workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """A new key signs from now on (the other slot); the current one stays accepted in its slot."""
    from cmu610bsp import keys, ui

    rec = keys.rotate(open_ws(workspace, debug), pkcs11)
    ui.out.print(f"slot {rec.active} signs now (sha256 {rec.slots[rec.active].sha256}): {keys.reference(rec)}; "
                 f"slot {1 - rec.active} stays accepted (sha256 {rec.slots[1 - rec.active].sha256})")
    ui.out.print("run `cmu610bsp sync` so that the keys partition carries both")


@app.command("show")
def show(as_json: JsonOpt = False, workspace: WorkspaceOpt = None, debug: DebugOpt = False) -> None:
    """The key's algorithm, where it is on this machine, the slots; fails if it cannot sign here."""
    from cmu610bsp import keys, ui

    st = keys.status(open_ws(workspace, debug))
    data = st.as_dict()
    if as_json:
        ui.print_json(data)
    elif st.record is not None:
        key = f"{data['key']}" + (" ($CMU610BSP_SIGNING_KEY)" if data["overridden"] else "")
        rows = [("algorithm", str(data["algorithm"])), ("key", key),
                *((f"slot {i}", s.sha256 + ("  (signs)" if i == st.record.active else "  (accepted)"))
                  for i, s in enumerate(st.record.slots)),
                ("usable here", "yes" if st.usable else f"no: {st.problem}")]
        ui.out.print(ui.table("signing key", ("what", "value"), rows))
    if not st.usable:
        raise CheckFailed(st.problem or "no usable signing key")
