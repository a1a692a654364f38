"""The flash image: the board's partition table filled with the boot stage and each domain's
image behind a header the boot stage checks, erased (0xFF) everywhere else, and its manifest.

Standard library only and nothing from cmu610bsp, so the layer's BitBake recipe runs this very file
(files/cmu610_flash.py is a byte-for-byte copy); the model is turned into `Partition`s by
`cmu610bsp.flash_layout.partitions`, and the tool turns a `FlashError` into its user error.

Header (little-endian, HEADER_SIZE bytes, at offset 0 of each firmware partition, the image
right behind it); the boot stage (data/bootstage/boot.c) reads the same layout:

    0  magic        u32  b"C610"
    4  version      u16  HEADER_VERSION
    6  header_size  u16  HEADER_SIZE
    8  load_address u32  where the image is copied to (its domain's RAM)
   12  entry        u32  where the hart jumps, inside the copied image
   16  image_size   u32  bytes of image behind the header
   20  hart         u32  the hart that may run it
   24  sha256       32 bytes over the image
   56  image_version     the image's own version: major u8, minor u8, revision u16; 0 = none
                         (read by `image_version` here and cmu610_image.c in the firmware: one
                         reader each, to switch when the header format changes)
   60  header_crc   u32  CRC-32 (zlib's) over bytes 0..59

A/B slots (partitions with a `slot`) end in MCUboot's image trailer, TRAILER_SIZE bytes, each
field in its own 8-byte unit (MCUboot's BOOT_MAX_ALIGN) so that each is one flash program:

    size-16  magic      MCUboot's boot_img_magic: the slot holds a whole image (written last)
    size-24  image_ok   0x01 confirmed (by the BMC firmware after a healthy boot; 0xFF: not yet)
    size-32  copy_done  0x01 the boot stage has started this image once on trial
    size-48  generation u32, stored inverted (erased = 0): the slot with the higher generation is
                        the newer image; in the unit MCUboot's swap modes keep swap_size, unused by
                        its direct-xip mode whose revert logic this follows (update.py, slots.c)
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAGIC = 0x30313643  # b"C610" read as a little-endian u32
HEADER_VERSION = 1
_FORMAT = "<IHHIIII32sI"
HEADER_SIZE = struct.calcsize(_FORMAT) + 4
ERASED = 0xFF
BOOT_MAGIC = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")   # MCUboot's (and imgtool's) boot_magic
TRAILER_SIZE = 48
MAGIC_OFF, IMAGE_OK_OFF, COPY_DONE_OFF, GENERATION_OFF = -16, -24, -32, -48
FLAG_SET = 0x01


class FlashError(Exception):
    """An image that cannot be packed or a header that does not check, with where and why."""


@dataclass(frozen=True)
class Partition:
    """One row of the partition table, with the hart that runs what it holds."""

    name: str
    offset: int
    size: int
    role: str              # "boot" | "firmware" | "data"
    domain: str            # owning domain: "secure" | "bmc"
    hart: int              # the owning domain's hart
    slot: str | None = None


@dataclass(frozen=True)
class Image:
    """One domain's raw image (objcopy -O binary) and where it runs."""

    data: bytes
    load_address: int
    entry: int
    hart: int
    version: tuple[int, int, int] | None = None   # major, minor, revision (the header's image_version)


@dataclass(frozen=True)
class Header:
    load_address: int
    entry: int
    image_size: int
    hart: int
    sha256: bytes
    version: int = HEADER_VERSION
    image_version: tuple[int, int, int] | None = None


def header(image: Image) -> bytes:
    """The HEADER_SIZE bytes that precede `image` in its partition."""
    v = image.version
    if v is not None and not (0 <= v[0] < 256 and 0 <= v[1] < 256 and 0 <= v[2] < 65536 and any(v)):
        raise FlashError(f"image version {'.'.join(map(str, v))}: the header holds major and minor 0-255, "
                         "revision 0-65535, not all 0")
    word = v[0] | v[1] << 8 | v[2] << 16 if v else 0
    body = struct.pack(_FORMAT, MAGIC, HEADER_VERSION, HEADER_SIZE, image.load_address, image.entry,
                       len(image.data), image.hart, hashlib.sha256(image.data).digest(), word)
    return body + struct.pack("<I", zlib.crc32(body))


def read_header(raw: bytes, where: str) -> Header:
    """Parse and check a header as the boot stage does; `where` names the partition in errors."""
    if len(raw) < HEADER_SIZE:
        raise FlashError(f"{where}: {len(raw)} bytes, too short for a {HEADER_SIZE}-byte image header")
    body, (crc,) = raw[:HEADER_SIZE - 4], struct.unpack_from("<I", raw, HEADER_SIZE - 4)
    magic, version, size, load, entry, image_size, hart, digest, word = struct.unpack(_FORMAT, body)
    if magic != MAGIC:
        raise FlashError(f"{where}: bad magic {magic:#010x} (expected {MAGIC:#010x}): no image header")
    if crc != zlib.crc32(body):
        raise FlashError(f"{where}: header CRC {crc:#010x} does not match its bytes ({zlib.crc32(body):#010x})")
    if version != HEADER_VERSION or size != HEADER_SIZE:
        raise FlashError(f"{where}: header version {version} size {size}, this tool writes {HEADER_VERSION} size {HEADER_SIZE}")
    image_version = (word & 0xFF, word >> 8 & 0xFF, word >> 16) if word else None
    return Header(load, entry, image_size, hart, digest, version, image_version)


def image_version(raw: bytes) -> str | None:
    """The version a firmware partition's header gives its image ("1.2.3"), or None: no valid
    header, or one without a version. What the secure firmware reports through PLDM
    GetFirmwareParameters (cmu610_image.c reads the same field)."""
    try:
        v = read_header(raw, "").image_version
    except FlashError:
        return None
    return ".".join(map(str, v)) if v else None


def check_image(raw: bytes, where: str) -> Header:
    """What the boot stage checks of a firmware partition's bytes: the header, then the image's
    size and sha256 against it."""
    h = read_header(raw, where)
    data = raw[HEADER_SIZE:HEADER_SIZE + h.image_size]
    if len(data) < h.image_size:
        raise FlashError(f"{where}: the header says {h.image_size} bytes of image, the partition holds {len(data)}")
    if hashlib.sha256(data).digest() != h.sha256:
        raise FlashError(f"{where}: the image's sha256 does not match its header")
    return h


def trailer(generation: int = 0, confirmed: bool = True) -> bytes:
    """The TRAILER_SIZE bytes that end an A/B slot holding a whole image: confirmed (a factory
    image) or pending its trial (an update), newer than every slot of a lower generation."""
    out = bytearray([ERASED]) * TRAILER_SIZE
    out[GENERATION_OFF:GENERATION_OFF + 4] = struct.pack("<I", ~generation & 0xFFFFFFFF)
    if confirmed:
        out[IMAGE_OK_OFF] = FLAG_SET
    out[MAGIC_OFF:] = BOOT_MAGIC
    return bytes(out)


def pack(partitions: Sequence[Partition], images: Mapping[str, Image], flash_size: int, *, boot: bytes) -> bytes:
    """One flash_size image: `boot` (the boot stage, raw) at the start of the boot partition, each
    domain's header + image (`images` keyed by domain) in its firmware partition, in slot A and
    in slot B alike (a factory image: either slot boots; both confirmed, generation 0, so slot A
    starts), 0xFF everywhere else.
    A domain without an image, an image without a partition, or one that does not fit is a FlashError."""
    out = bytearray([ERASED]) * flash_size
    unused = set(images)
    for p in sorted(partitions, key=lambda p: p.offset):
        if p.offset + p.size > flash_size:
            raise FlashError(f"{p.name}: ends at {p.offset + p.size:#x}, past the end of the {flash_size:#x}-byte flash")
        if p.role == "boot":
            content, what = boot, "the boot stage"
        elif p.role == "firmware":
            content, what = _image_content(p, images)
            unused.discard(p.domain)
        else:
            continue
        room = p.size - (TRAILER_SIZE if p.slot else 0)
        if len(content) > room:
            raise FlashError(f"{p.name}: {what} does not fit: {len(content)} bytes in a {p.size}-byte partition"
                             f"{f' with its {TRAILER_SIZE}-byte trailer' if p.slot else ''}, "
                             f"{len(content) - room} bytes too many")
        out[p.offset:p.offset + len(content)] = content
        if p.slot:
            out[p.offset + p.size - TRAILER_SIZE:p.offset + p.size] = trailer()
    if unused:
        raise FlashError(f"no firmware partition for the image of domain {', '.join(sorted(unused))}")
    return bytes(out)


def _image_content(p: Partition, images: Mapping[str, Image]) -> tuple[bytes, str]:
    """A firmware partition's bytes (header + image) and how to name them in an error."""
    if p.domain not in images:
        have = ", ".join(sorted(images)) or "none"
        raise FlashError(f"{p.name}: no image given for the {p.domain} domain (have: {have})")
    image = images[p.domain]
    if image.hart != p.hart:
        raise FlashError(f"{p.name}: the {p.domain} image is for hart {image.hart}, the partition's domain runs on hart {p.hart}")
    return header(image) + image.data, f"the {p.domain} image ({HEADER_SIZE}-byte header + {len(image.data)} bytes)"


def manifest(partitions: Sequence[Partition], flash: bytes) -> list[dict[str, object]]:
    """What each partition of a packed image holds: offset, size, sha256 of the partition's bytes,
    domain and hart (none for the boot partition: every hart starts there), and for an image
    partition the header it carries, checked against the image (JSON-ready)."""
    out: list[dict[str, object]] = []
    for p in sorted(partitions, key=lambda p: p.offset):
        raw = flash[p.offset:p.offset + p.size]
        entry: dict[str, object] = {
            "partition": p.name, "offset": p.offset, "size": p.size, "role": p.role, "slot": p.slot,
            "domain": p.domain, "hart": None if p.role == "boot" else p.hart, "sha256": hashlib.sha256(raw).hexdigest(),
            "erased": raw.count(ERASED) == len(raw),
        }
        if p.role == "firmware":
            h = check_image(raw, p.name)
            entry["image"] = {"load_address": h.load_address, "entry": h.entry, "size": h.image_size,
                              "hart": h.hart, "sha256": h.sha256.hex(),
                              "version": ".".join(map(str, h.image_version)) if h.image_version else None}
        out.append(entry)
    return out


@dataclass(frozen=True)
class Segment:
    """A loadable segment (PT_LOAD) of a firmware ELF: where it sits, its bytes in the image, its
    bytes in RAM (more than in the image for .bss and .noinit)."""

    address: int
    filesz: int
    memsz: int


def elf_load(elf: bytes, where: str) -> tuple[int, list[Segment]]:
    """(e_entry, the loadable segments) of a 32-bit little-endian ELF (a firmware's zephyr.elf)."""
    if elf[:6] != b"\x7fELF\x01\x01":
        raise FlashError(f"{where}: not a 32-bit little-endian ELF")
    entry, phoff = struct.unpack_from("<II", elf, 24)
    phentsize, phnum = struct.unpack_from("<HH", elf, 42)
    out = []
    for i in range(phnum):
        ptype, _off, _vaddr, paddr, filesz, memsz = struct.unpack_from("<IIIIII", elf, phoff + i * phentsize)
        if ptype == 1 and memsz:
            out.append(Segment(paddr, filesz, memsz))
    if not any(s.filesz for s in out):
        raise FlashError(f"{where}: no loadable segment")
    return entry, out


def budget(domain: str, segments: Sequence[Segment], base: int, size: int, image: Image,
           partitions: Sequence[Partition]) -> dict[str, object]:
    """What a domain's firmware takes of what the description gives it (JSON-ready): ROM, its
    image behind the header in each of its firmware partitions; RAM, the span its segments take
    of the domain's RAM window (code, data, .bss, .noinit, stacks: everything Zephyr places there),
    from the window's base. Segments outside the window (none today) are counted apart."""
    inside = [s for s in segments if base <= s.address < base + size]
    used = max((s.address + s.memsz for s in inside), default=base) - base
    outside = sum(s.memsz for s in segments if s not in inside)
    slots = [p for p in partitions if p.domain == domain and p.role == "firmware"]
    rom = HEADER_SIZE + len(image.data)
    return {
        "hart": image.hart,
        "rom": {"used": rom, "size": min((p.size for p in slots), default=0), "partitions": [p.name for p in slots]},
        "ram": {"base": base, "used": used, "size": size, "outside_window": outside},
    }
