"""The tamper matrix (issue 25, Must show 1), booted on the QEMU twin: the default board's flash
image with the two test images, signed (flashimg.amp_flash_image), then changed as an attacker or
a broken update would change it. Each case is refused by the boot stage naming the partition and
the reason, and its outcome checked: a refused secure image stops the twin (exit 3, neither
hart's firmware runs); a refused BMC slot A boots slot B; a domain with no valid slot stops.
Key rotation and a counter at the OTP's value are the cases that must still boot."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from cmu610bsp import flash, mcuimage
from flashimg import MISSING, REFUSED, Amp, amp_flash_image, boot, signing_key

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
HASH = "hash mismatch (header, image or protected TLVs changed)"
FOREIGN_KEY = "signed with a key that is not in the keys partition"
DOWNGRADE = "security counter below the anti-rollback counter (downgrade)"


@dataclasses.dataclass(frozen=True)
class Rig:
    """The packed image, a second key (the attacker's, or the next one), and helpers on partitions."""

    amp: Amp
    other_key: str

    def span(self, name: str) -> tuple[int, int]:
        (p,) = [p for p in self.amp.board.flash.partitions if p.name == name]
        return p.offset, p.size

    def get(self, img: bytes, name: str) -> bytes:
        offset, size = self.span(name)
        return img[offset:offset + size]

    def put(self, img: bytes, name: str, content: bytes) -> bytes:
        """img with the partition erased and `content` written at its start; an A/B slot keeps its
        trailer (a whole, confirmed image as far as slot selection knows: verification decides)."""
        offset, size = self.span(name)
        (p,) = [p for p in self.amp.board.flash.partitions if p.name == name]
        keep = flash.TRAILER_SIZE if p.slot else 0
        body = content[:size - keep]
        return (img[:offset] + body + b"\xff" * (size - keep - len(body)) + img[offset + size - keep:offset + size]
                + img[offset + size:])

    def signed(self, domain: str, key: str | None = None, counter: int = 0) -> bytes:
        image = dataclasses.replace(self.amp.images[domain], security_counter=counter)
        return flash.signed(image, key or self.amp.key)

    def keys(self, img: bytes, keys: list[str], counters: dict[str, int] | None = None) -> bytes:
        hashes = [mcuimage.key_hash(mcuimage.public_key(k)) for k in keys]
        return self.put(img, flash.KEYS, mcuimage.keys_partition(hashes, self.span(flash.KEYS)[1], counters))


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Rig:
    out = tmp_path_factory.mktemp("secureboot")
    return Rig(amp_flash_image(out), signing_key(out / "other.pem"))


def flipped(rig: Rig, img: bytes, name: str, region: str) -> bytes:
    """img with one byte flipped in one signed region of the partition's image."""
    raw = rig.get(img, name)
    n = len(rig.amp.images["secure" if name == "secure-fw" else "bmc"].data)
    signed = mcuimage.verify(raw, name)
    at = {
        "header": 20,                                            # the version's major
        "image": flash.HEADER_SIZE + n // 2,
        "protected TLVs": flash.HEADER_SIZE + n + 8,             # the security counter's value
        "hash TLV": raw.find(bytes.fromhex(signed.image_sha256)) + 5,
        "public key TLV": raw.find(mcuimage.public_key(rig.amp.key)) + 20,
        "signature TLV": flash.HEADER_SIZE + n + flash.OVERHEAD - flash.HEADER_SIZE - 30,
    }[region]
    out = bytearray(raw)
    out[at] ^= 0x01
    return rig.put(img, name, bytes(out))


REASONS = {"header": HASH, "image": HASH, "protected TLVs": HASH, "hash TLV": HASH,
           "public key TLV": FOREIGN_KEY, "signature TLV": "bad signature"}


@pytest.mark.parametrize("region", list(REASONS))
def test_a_flipped_byte_in_the_secure_image_stops_the_twin(rig: Rig, tmp_path: Path, region: str) -> None:
    code, out = boot(flipped(rig, rig.amp.flash, "secure-fw", region), tmp_path)
    assert code == REFUSED, out
    assert f"boot: secure-fw: {REASONS[region]}" in out
    assert "no good image for the secure domain: stopped" in out
    assert "cpu0: boot ok" not in out and "cpu1: boot ok" not in out


@pytest.mark.parametrize("region", list(REASONS))
def test_a_flipped_byte_in_bmc_slot_a_boots_slot_b(rig: Rig, tmp_path: Path, region: str) -> None:
    code, out = boot(flipped(rig, rig.amp.flash, "bmc-fw-a", region), tmp_path)
    assert code == 0, out
    assert f"boot: bmc-fw-a: {REASONS[region]}, trying the next slot" in out
    assert "boot: bmc-fw-b: ok" in out and "cpu0: boot ok" in out and "cpu1: boot ok" in out


def _recomputed_hash(rig: Rig, img: bytes) -> bytes:
    """The attacker's change: an image byte changed and the SHA256 TLV recomputed to match."""
    raw = bytearray(rig.get(img, "bmc-fw-a"))
    old = bytes.fromhex(mcuimage.verify(bytes(raw), "bmc-fw-a").image_sha256)
    raw[flash.HEADER_SIZE + 7] ^= 0x20
    end = flash.HEADER_SIZE + len(rig.amp.images["bmc"].data) + 24      # header + image + protected TLVs
    at = raw.find(old)
    raw[at:at + 32] = hashlib.sha256(raw[:end]).digest()
    return rig.put(img, "bmc-fw-a", bytes(raw))


def _swapped(rig: Rig, img: bytes) -> bytes:
    secure, bmc = rig.get(img, "secure-fw"), rig.get(img, "bmc-fw-a")
    return rig.put(rig.put(img, "secure-fw", bmc[:rig.span("secure-fw")[1]]), "bmc-fw-a", secure)


def _truncated(rig: Rig, img: bytes) -> bytes:
    raw = rig.get(img, "bmc-fw-a")
    return rig.put(img, "bmc-fw-a", raw[:flash.HEADER_SIZE + len(rig.amp.images["bmc"].data) + 10])


def _downgrade(rig: Rig, img: bytes) -> bytes:
    """The BMC's anti-rollback counter at 3, both slots holding images signed with counter 2."""
    img = rig.keys(img, [rig.amp.key], {"bmc": 3})
    return rig.put(rig.put(img, "bmc-fw-a", rig.signed("bmc", counter=2)), "bmc-fw-b", rig.signed("bmc", counter=2))


# (change, exit code, what the console must say, what it must not)
CASES: dict[str, tuple[Callable[[Rig, bytes], bytes], int, list[str], list[str]]] = {
    "header recomputed by an attacker": (
        _recomputed_hash, 0, ["boot: bmc-fw-a: bad signature, trying the next slot", "boot: bmc-fw-b: ok"], []),
    "slots swapped (secure and BMC images)": (
        _swapped, REFUSED, ["boot: secure-fw: image is for another hart", "no good image for the secure domain"],
        ["cpu0: boot ok"]),
    "wrong key": (
        lambda r, img: r.put(img, "bmc-fw-a", r.signed("bmc", key=r.other_key)), 0,
        [f"boot: bmc-fw-a: {FOREIGN_KEY}, trying the next slot", "boot: bmc-fw-b: ok"], []),
    "wrong key in both slots": (
        lambda r, img: r.put(r.put(img, "bmc-fw-a", r.signed("bmc", key=r.other_key)), "bmc-fw-b",
                             r.signed("bmc", key=r.other_key)), REFUSED,
        [f"boot: bmc-fw-b: {FOREIGN_KEY}", "no good image for the bmc domain"], ["cpu1: boot ok"]),
    "downgrade below the counter": (
        _downgrade, REFUSED, [f"boot: bmc-fw-a: {DOWNGRADE}, trying the next slot", f"boot: bmc-fw-b: {DOWNGRADE}",
                              "no good image for the bmc domain"], ["cpu1: boot ok"]),
    "truncated image": (
        _truncated, 0, ["boot: bmc-fw-a: no TLV area (truncated image?), trying the next slot", "boot: bmc-fw-b: ok"], []),
    "valid image in the wrong partition": (
        lambda r, img: r.put(img, "bmc-fw-a", r.get(img, "secure-fw")[:r.span("bmc-fw-a")[1]]), 0,
        ["boot: bmc-fw-a: image is for another hart, trying the next slot", "boot: bmc-fw-b: ok"], []),
    "no keys provisioned": (
        lambda r, img: r.put(img, flash.KEYS, b""), REFUSED, [f"boot: secure-fw: {FOREIGN_KEY}"], ["cpu0: boot ok"]),
    # what must still boot
    "rotation: an image signed with the second slot's key": (
        lambda r, img: r.put(r.keys(img, [r.amp.key, r.other_key]), "bmc-fw-a", r.signed("bmc", key=r.other_key)), 0,
        ["boot: bmc-fw-a: ok"], ["trying the next slot"]),
    "a counter at the OTP's value": (
        lambda r, img: r.put(r.keys(img, [r.amp.key], {"bmc": 3}), "bmc-fw-a", r.signed("bmc", counter=3)), 0,
        ["boot: bmc-fw-a: ok, version 0.0.0, security counter 3"], ["trying the next slot"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tamper_matrix(rig: Rig, tmp_path: Path, case: str) -> None:
    change, code, said, unsaid = CASES[case]
    returned, out = boot(change(rig, rig.amp.flash), tmp_path)
    assert returned == code, out
    for line in said:
        assert line in out, (line, out)
    for line in unsaid:
        assert line not in out, (line, out)
    assert ("cpu0: boot ok" in out and "cpu1: boot ok" in out) == (code == 0), out


def test_a_confirmed_image_raises_the_anti_rollback_counter(rig: Rig, tmp_path: Path) -> None:
    """The boot stage advances a hart's OTP counter to the security counter of the confirmed image
    it starts (slots.c, otp.c), in the twin's flash; an older image is refused from then on."""
    img = rig.put(rig.put(rig.amp.flash, "bmc-fw-a", rig.signed("bmc", counter=3)), "bmc-fw-b", rig.signed("bmc", counter=3))
    code, out = boot(img, tmp_path)
    assert code == 0 and "boot: bmc-fw-a: ok, version 0.0.0, security counter 3" in out, out
    keys = rig.get((tmp_path / "flash.bin").read_bytes(), flash.KEYS)
    assert (mcuimage.otp_value(keys, "bmc"), mcuimage.otp_value(keys, "secure")) == (3, 0)
    code, out = boot(rig.put((tmp_path / "flash.bin").read_bytes(), "bmc-fw-a", rig.signed("bmc", counter=2)), tmp_path)
    assert code == 0 and f"boot: bmc-fw-a: {DOWNGRADE}, trying the next slot" in out and "boot: bmc-fw-b: ok" in out, out
