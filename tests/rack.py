"""A rack of boards for `build LINE --all-boards` tests and the bench: sleds that differ in their
BMC domain (sensors, hostname) and share one secure domain, so one secure firmware serves them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SLED = REPO / "configs" / "boards" / "cmu610-sled.yaml"


def sled(n: int) -> tuple[str, str]:
    """(name, description) of sled `n`: the reference sled with its own name, hostname and
    temperature sensor address; the secure domain untouched."""
    name = "cmu610-sled" if n == 0 else f"cmu610-sled{n}"
    text = SLED.read_text()
    text = re.sub(r"^name: cmu610-sled$", f"name: {name}", text, flags=re.M)
    text = re.sub(r"^full_name: .*$", f"full_name: CMU610 sled controller {n}", text, flags=re.M)
    text = text.replace("hostname: cmu610-sled", f"hostname: {name}")
    text = text.replace("address: 0x4a", f"address: {0x48 + n % 8:#04x}")
    return name, text


def make_rack(ws: Path, sleds: int, keep_evb: bool = False) -> list[str]:
    """Describe `sleds` sleds in workspace `ws` (and the evaluation board, which has a secure
    domain of its own, with `keep_evb`); returns the board names. The caller syncs."""
    cfg_path = ws / "cmu610bsp.yml"
    cfg = yaml.safe_load(cfg_path.read_text())
    boards = ["configs/boards/cmu610-evb.yaml"] if keep_evb else []
    names = ["cmu610-evb"] if keep_evb else []
    for n in range(sleds):
        name, text = sled(n)
        (ws / "configs" / "boards" / f"{name}.yaml").write_text(text)
        boards.append(f"configs/boards/{name}.yaml")
        names.append(name)
    cfg["boards"] = boards
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return names
