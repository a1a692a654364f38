"""Bad descriptions: each exits 2, names the file and the field, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_cli, snapshot

BOARD = "configs/boards/cmu610-evb.yaml"
SOC = "configs/soc/cmu610.yaml"


def _board_edit(fn):
    def apply(ws: Path) -> str:
        path = ws / BOARD
        data = yaml.safe_load(path.read_text())
        fn(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return BOARD
    return apply


def _soc_edit(fn):
    def apply(ws: Path) -> str:
        path = ws / SOC
        data = yaml.safe_load(path.read_text())
        fn(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return SOC
    return apply


def _text(rel: str, old: str, new: str):
    def apply(ws: Path) -> str:
        path = ws / rel
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        return rel
    return apply


def _bmc(key, fn):
    return _board_edit(lambda d: fn(d["domains"]["bmc"][key]))


def _set(path_keys, value):
    def fn(d):
        for k in path_keys[:-1]:
            d = d[k]
        d[path_keys[-1]] = value
    return fn


# (id, mutation, field path expected in the message, a word of the reason)
CASES = [
    ("unknown-peripheral", _bmc("peripherals", lambda p: p.append("uart9")), "domains.bmc.peripherals[15]", "unknown peripheral"),
    ("unknown-sensor-kind", _board_edit(_set(["sensors", 2, "kind"], "tmp999")), "sensors[2].kind", "unknown sensor kind"),
    ("unknown-field", _board_edit(lambda d: d["sensors"][0].__setitem__("adress", 0x48)), "sensors[0].adress", "unknown field"),
    ("wrong-type", _board_edit(_set(["sensors", 1, "address"], "forty")), "sensors[1].address", "integer"),
    ("missing-field", _board_edit(lambda d: d["domains"]["bmc"].pop("console")), "domains.bmc.console", "required"),
    ("sram-overlap", _board_edit(_set(["domains", "bmc", "memory", 0, "offset"], "512K")), "domains.bmc.memory[0]", "overlaps"),
    ("sram-overcommit", _board_edit(_set(["domains", "bmc", "memory", 0, "size"], "1200K")), "domains.bmc.memory", "over-committed"),
    ("psram-past-end", _board_edit(_set(["domains", "bmc", "memory", 1, "size"], "8M")), "domains.bmc.memory[1]", "past the"),
    ("partition-overlap", _board_edit(_set(["flash", "partitions", 4, "offset"], "13M")), "flash.partitions[4]", "overlaps"),
    ("partition-past-end", _board_edit(_set(["flash", "partitions", 6, "size"], "8M")), "flash.partitions[6]", "past the end"),
    ("partition-unaligned", _board_edit(_set(["flash", "partitions", 5, "size"], 1000)), "flash.partitions[5]", "sector"),
    ("secure-partition-to-bmc", _board_edit(_set(["flash", "partitions", 2, "owner"], "bmc")), "flash.partitions[2].owner", "secure partition"),
    ("two-devices-one-address", _board_edit(_set(["sensors", 1, "address"], 0x48)), "sensors[1].address", "already used"),
    ("sensor-on-disabled-bus", _board_edit(_set(["sensors", 0, "bus"], "i2c5")), "sensors[0].bus", "disabled"),
    ("sensor-on-secure-bus", _board_edit(_set(["sensors", 0, "bus"], "i2c7")), "sensors[0].bus", "secure domain"),
    ("rot-to-bmc", _bmc("peripherals", lambda p: p.append("rot")), "domains.bmc.peripherals[15]", "secure-only"),
    ("otp-to-bmc", _board_edit(lambda d: (d["domains"]["secure"]["peripherals"].remove("otp"), d["domains"]["bmc"]["peripherals"].append("otp"))), "domains.bmc.peripherals[15]", "secure-only"),
    ("keystore-to-bmc", _board_edit(lambda d: (d["domains"]["secure"]["peripherals"].remove("keystore"), d["domains"]["bmc"]["peripherals"].append("keystore"))), "domains.bmc.peripherals[15]", "secure-only"),
    ("peripheral-in-both-domains", _bmc("peripherals", lambda p: p.append("wdt0")), "domains.bmc.peripherals[15]", "already owned"),
    ("console-not-uart", _board_edit(_set(["domains", "bmc", "console"], "i2c0")), "domains.bmc.console", "not a uart"),
    ("console-not-owned", _board_edit(_set(["domains", "bmc", "console"], "uart3")), "domains.bmc.console", "not one of this domain"),
    ("gpio-line-beyond-ngpios", _board_edit(_set(["gpio_lines", 0, "line"], 40)), "gpio_lines[0].line", "no line 40"),
    ("gpio-line-twice", _board_edit(_set(["gpio_lines", 1, "line"], 0)), "gpio_lines[1].line", "already named"),
    ("fan-bad-channel", _board_edit(_set(["fans", 1, "pwm_channel"], 8)), "fans[1].pwm_channel", "no channel 8"),
    ("same-hart", _board_edit(_set(["domains", "bmc", "hart"], 0)), "domains.bmc.hart", "same hart"),
    ("bad-product-line", _board_edit(_set(["product_lines"], ["bigbmc", "hugebmc"])), "product_lines[1]", "not allowed"),
    ("i2c-address-range", _board_edit(_set(["sensors", 0, "address"], 0x20)), "sensors[0].address", "outside"),
    ("thresholds-order", _board_edit(_set(["sensors", 0, "thresholds", "warning_high"], 80)), "sensors[0].thresholds", "rise"),
    ("soc-window-overlap", _soc_edit(_set(["peripherals", "uart1", "base"], 0x40000800)), "peripherals.uart1", "overlaps"),
    ("soc-unknown-kind", _soc_edit(_set(["peripherals", "uart1", "kind"], "usb")), "peripherals.uart1.kind", "not allowed"),
    ("yaml-syntax", _text(BOARD, "product_lines: [bigbmc, littlebmc]", "product_lines: [bigbmc, littlebmc"), "line", "YAML"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_description_is_refused_and_changes_nothing(workspace: Path, case) -> None:
    _, mutate, field, reason = case
    rel = mutate(workspace)
    before = snapshot(workspace)
    r = run_cli("generate", cwd=workspace)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert rel in r.stderr, r.stderr
    assert field in r.stderr, r.stderr
    assert reason.lower() in r.stderr.lower(), r.stderr
    assert snapshot(workspace) == before


@pytest.mark.parametrize("case", [c for c in CASES if c[1].__qualname__.startswith("_board_edit")][:5],
                         ids=lambda c: c[0])
def test_init_with_bad_board_creates_nothing(tmp_path: Path, case) -> None:
    _, mutate, field, _ = case
    src = tmp_path / "src"
    (src / "configs/boards").mkdir(parents=True)
    (src / BOARD).write_text((REPO / BOARD).read_text())
    mutate(src)
    target = tmp_path / "new-ws"
    r = run_cli("init", str(target), "--board", str(src / BOARD))
    assert r.returncode == 2, r.stderr
    assert str(src / BOARD) in r.stderr and field in r.stderr
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no scratch directory left


def test_enough_cases() -> None:
    assert len(CASES) >= 15
