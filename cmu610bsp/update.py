"""A/B update of a flash image (the twin's, CI's): a new BMC image written into the slot the boot
stage does not fall back to, as data/bootstage/slots.c reads the slots (flash.py's trailer).

The update is a list of flash operations (erase a block, program bytes) applied in order, so
that a power cut after any prefix of them, or in the middle of one, leaves a flash that boots a
valid image: the target's trailer is erased first (the slot is no longer complete, so never
chosen), its image and generation are written, its trailer magic last (the commit point). The
confirmed slot the boot stage falls back to is never written; an update while a trial runs
unconfirmed is refused (it would overwrite the fallback).
"""

from __future__ import annotations

import json
import os
import stat
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from cmu610bsp import flash, fwpackage, mcuimage
from cmu610bsp.errors import BspError, Finding
from cmu610bsp.fileio import writing
from cmu610bsp.yamlio import read_text

# QEMU virt's pflash erases in 256 KiB blocks (the chip's NOR flash in no larger ones): partitions
# must be aligned to it, and the update erases a slot block by block.
ERASE_BLOCK = 256 * 1024
PROGRAM_CHUNK = 64 * 1024
BMC = "bmc"


@dataclass(frozen=True)
class Slot:
    """What the boot stage sees in an A/B slot: its trailer's state and whether its image checks."""

    partition: flash.Partition
    complete: bool          # trailer magic: a whole image was written
    confirmed: bool         # image_ok
    tried: bool             # copy_done: started once on trial
    generation: int
    problem: str | None     # why its image is not one the boot stage starts, None if it is

    @property
    def bootable(self) -> bool:
        """Would the boot stage start it (not revert it, not refuse it)?"""
        return self.complete and self.problem is None and (self.confirmed or not self.tried)


@dataclass(frozen=True)
class Op:
    """One flash operation: `data` written at `offset` (an erase writes 0xFF), and what it is."""

    offset: int
    data: bytes
    what: str


def slots(partitions: Sequence[flash.Partition], image: bytes, domain: str = BMC) -> list[Slot]:
    """The domain's A/B slots in the flash image, in slot order (a, b)."""
    out = []
    for p in sorted((p for p in partitions if p.domain == domain and p.role == "firmware" and p.slot),
                    key=lambda p: p.slot or ""):
        raw = image[p.offset:p.offset + p.size]
        tail = raw[-flash.TRAILER_SIZE:]
        (inverted,) = struct.unpack_from("<I", tail, flash.TRAILER_SIZE + flash.GENERATION_OFF)
        out.append(Slot(p, tail[flash.MAGIC_OFF:] == flash.BOOT_MAGIC, tail[flash.IMAGE_OK_OFF] == flash.FLAG_SET,
                        tail[flash.COPY_DONE_OFF] == flash.FLAG_SET, ~inverted & 0xFFFFFFFF,
                        problem(raw[:-flash.TRAILER_SIZE], p, keys_of(partitions, image))))
    return out


def keys_of(partitions: Sequence[flash.Partition], image: bytes) -> bytes:
    """The flash image's keys partition (the trusted key hashes, the anti-rollback counters)."""
    p = next((p for p in partitions if p.name == flash.KEYS), None)
    return image[p.offset:p.offset + p.size] if p else b""


def problem(area: bytes, p: flash.Partition, keys: bytes) -> str | None:
    """Why the boot stage would refuse the signed image in a slot's image area (`area`, the slot
    less its trailer), or None: what mcuimage.verify checks against the keys partition's keys,
    the partition's hart, and the domain's anti-rollback counter (verify.c checks the same)."""
    try:
        signed = mcuimage.verify(area, p.name, mcuimage.trusted_keys(keys))
    except mcuimage.ImageError as e:
        return str(e)
    if signed.hart != p.hart:
        return f"{p.name}: image is for another hart ({signed.hart}, the partition's is {p.hart})"
    counter = mcuimage.otp_value(keys, p.domain) if keys else 0
    if signed.security_counter < counter:
        return (f"{p.name}: security counter {signed.security_counter} below the anti-rollback counter {counter} "
                "(downgrade)")
    return None


def chosen(states: Sequence[Slot]) -> Slot | None:
    """The slot the boot stage starts next (slots.c's order: highest generation, then slot a)."""
    order = sorted((s for s in states if s.complete), key=lambda s: -s.generation)
    return next((s for s in order if s.bootable), None)


@dataclass(frozen=True)
class Plan:
    """An update: the slot it writes, the generation it gives it, the operations in order."""

    target: Slot
    generation: int
    ops: list[Op]


def plan(partitions: Sequence[flash.Partition], image: bytes, content: bytes, domain: str = BMC) -> Plan:
    """The slot an update with `content` (the signed image) writes and the operations, in order; an
    image the boot stage would refuse on this flash (key, hart, counter) is refused."""
    states = slots(partitions, image, domain)
    if len(states) < 2:
        raise BspError(f"the flash image has {len(states)} A/B slot(s) for the {domain} domain: nothing to update into")
    running = [s for s in states if s.complete and s.tried and not s.confirmed]
    if running:
        raise BspError(f"{running[0].partition.name}: its trial boot has not been confirmed: an update now would "
                       "overwrite the slot it falls back to",
                       hint="boot it again (an unconfirmed trial reverts) or let its firmware confirm it")
    fallback = [s for s in states if s.complete and s.confirmed and s.problem is None]
    if not fallback:
        raise BspError("no A/B slot holds a confirmed, valid image: the flash image cannot be updated safely")
    keep = max(fallback, key=lambda s: s.generation)
    target = next(s for s in states if s is not keep)
    p = target.partition
    room = p.size - flash.TRAILER_SIZE
    if len(content) > room:
        raise BspError(f"{p.name}: the update's image ({len(content)} bytes) does not fit the {room} bytes before "
                       f"its trailer, {len(content) - room} bytes too many")
    if p.offset % ERASE_BLOCK or p.size % ERASE_BLOCK:
        raise BspError(f"{p.name}: offset {p.offset:#x} size {p.size:#x} not aligned to the {ERASE_BLOCK // 1024} KiB "
                       "erase block: an update cannot erase it alone")
    why = problem(content, p, keys_of(partitions, image))
    if why:
        raise BspError(f"{p.name}: the boot stage would refuse the update's image: {why}")
    generation = max(s.generation for s in states if s.complete) + 1
    blocks = list(range(p.offset, p.offset + p.size, ERASE_BLOCK))
    ops = [Op(b, bytes([flash.ERASED]) * ERASE_BLOCK, f"erase {p.name} +{b - p.offset:#x}")
           for b in [blocks[-1], *blocks[:-1]] if image[b:b + ERASE_BLOCK].count(flash.ERASED) != ERASE_BLOCK]
    ops += [Op(p.offset + at, content[at:at + PROGRAM_CHUNK], f"program {p.name} image +{at:#x}")
            for at in range(0, len(content), PROGRAM_CHUNK)]
    end = p.offset + p.size
    trailer = flash.trailer(generation, confirmed=False)
    ops.append(Op(end + flash.GENERATION_OFF, trailer[flash.GENERATION_OFF:flash.GENERATION_OFF + 4],
                  f"program {p.name} generation {generation}"))
    ops += [Op(end + flash.MAGIC_OFF + 4 * i, flash.BOOT_MAGIC[4 * i:4 * i + 4], f"program {p.name} magic word {i}")
            for i in range(4)]
    return Plan(target, generation, ops)


def apply(image: bytearray, ops: Sequence[Op]) -> None:
    """Apply the operations to a flash image in memory."""
    for op in ops:
        image[op.offset:op.offset + len(op.data)] = op.data


def require_image(path: Path) -> None:
    """Refuse a flash image that is not there before anything beside it is read (its manifest)."""
    if not path.is_file():
        raise BspError("no flash image to update", [Finding(str(path), "(file)", "missing" if not path.exists()
                                                            else "not a regular file")])


def read_manifest(manifest: Path) -> tuple[list[flash.Partition], str | None]:
    """The partition table of a flash image and the machine it was packed for (None where the
    manifest does not say), from the manifest its packer wrote beside it."""
    if not manifest.exists():
        raise BspError("no flash manifest", [Finding(str(manifest), "(file)", "missing: the packer writes "
                               "flash-manifest.json beside flash.bin; name another with --manifest")])
    text = read_text(manifest)          # a regular file, bounded: never a FIFO or a device
    try:
        data = json.loads(text)
        rows, machine = data["partitions"], data.get("machine")
        table = [flash.Partition(r["partition"], r["offset"], r["size"], r["role"], r["domain"],
                                 r["hart"] if r["hart"] is not None else -1, r["slot"]) for r in rows]
        odd = [p.name for p in table if not all(type(v) is int and v >= 0 for v in (p.offset, p.size))]
        if odd:
            raise ValueError(f"{', '.join(map(str, odd))}: offset and size must be whole numbers")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BspError("not a flash manifest", [Finding(str(manifest), "partitions", str(e))]) from None
    if machine is not None and not isinstance(machine, str):
        raise BspError("not a flash manifest", [Finding(str(manifest), "machine", f"not a name: {machine!r}")])
    return table, machine


def update_file(path: Path, partitions: Sequence[flash.Partition], content: bytes) -> Plan:
    """Update the flash image file in place, operation by operation (as the flash would take them)."""
    try:   # not through a link, and never blocking on a FIFO put in its place
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise BspError("cannot open the flash image for writing",
                       [Finding(str(path), "(file)", e.strerror or str(e))]) from None
    with os.fdopen(fd, "r+b") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BspError("cannot update the flash image", [Finding(str(path), "(file)", "not a regular file")])
        done = plan(partitions, f.read(), content)
        # the order keeps the fallback slot whole: a write that fails part way leaves it bootable
        with writing(path, "the update stopped part way: the slot it wrote is incomplete, the fallback still boots"):
            for op in done.ops:
                f.seek(op.offset)
                f.write(op.data)
            f.flush()
            os.fsync(f.fileno())
    return done


def package_image(partitions: Sequence[flash.Partition], package: Path,
                  machine: str | None = None) -> tuple[fwpackage.Package, bytes]:
    """The package's image, checked: a PLDM package this tool wrote, for this flash's A/B slots
    (the same partition table) and, where the flash's manifest names it, its machine (the chip's
    and its twin's flash have the same slots, not the same firmware), with a signed image that
    verifies (mcuimage.verify; whether this flash trusts its key is update.plan's question)."""
    try:
        pkg = fwpackage.read(package.read_bytes())
    except OSError as e:
        raise BspError("cannot read the update package", [Finding(str(package), "(file)", e.strerror or str(e))]) from None
    except fwpackage.PackageError as e:
        raise BspError("not an update package", [Finding(str(package), "(package)", str(e))]) from None
    ours = fwpackage.ab_slots([asdict(p) for p in partitions])
    if pkg.metadata.get("slots") != ours:
        raise BspError("the update package is for another flash layout",
                       [Finding(str(package), "slots", f"built for {pkg.metadata.get('slots')!r}, this flash has {ours!r}")])
    if machine is not None and pkg.metadata.get("machine") != machine:
        raise BspError("the update package is for another machine",
                       [Finding(str(package), "machine", f"built for {pkg.metadata.get('machine')!r}, "
                                                         f"this flash image is {machine!r}'s")])
    try:
        mcuimage.verify(pkg.image, f"{package}: the BMC image")
    except mcuimage.ImageError as e:
        raise BspError("the update package's image does not check", [Finding(str(package), "image", str(e))]) from None
    return pkg, pkg.image

