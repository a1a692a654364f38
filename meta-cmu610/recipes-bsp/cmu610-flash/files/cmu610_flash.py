"""The flash image: the board's partition table filled with the boot stage, each domain's image
signed in MCUboot's format (mcuimage.py) in its firmware partitions, the keys partition the boot
stage trusts them by, erased (0xFF) everywhere else, and its manifest.

Standard library and mcuimage.py only, nothing from cmu610bsp, so the layer's BitBake recipe runs
this very file (files/cmu610_flash.py and files/cmu610_mcuimage.py are byte-for-byte copies); the
model is turned into `Partition`s by `cmu610bsp.flash_layout.partitions`, and the tool turns a
`FlashError` into its user error. The boot stage (data/bootstage/verify.c) checks what
`mcuimage.verify` checks, and the domain's hart, RAM window and anti-rollback counter.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# In the layer this file is cmu610_flash.py and signs with its neighbour cmu610_mcuimage.py, the
# copy in the task's signature, even where the Python that runs the packer also has cmu610bsp.
if __name__.startswith("cmu610bsp."):
    from cmu610bsp import mcuimage
else:
    import cmu610_mcuimage as mcuimage  # type: ignore[no-redef]

HEADER_SIZE = mcuimage.HEADER_SIZE
OVERHEAD = mcuimage.OVERHEAD    # what signing adds around each image
ERASED = 0xFF
KEYS = "keys"                   # the partition of the key hashes and anti-rollback counters
BOOT_MAGIC = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")   # MCUboot's (and imgtool's) boot_magic
TRAILER_SIZE = 48
MAGIC_OFF, IMAGE_OK_OFF, COPY_DONE_OFF, GENERATION_OFF = -16, -24, -32, -48
FLAG_SET = 0x01


class FlashError(Exception):
    """An image that cannot be packed or does not verify, with where and why."""


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
    version: tuple[int, int, int] | None = None   # major, minor, revision (MCUboot's header version)
    security_counter: int = 0                     # the SEC_CNT TLV: the anti-rollback counter's floor


def signed(image: Image, key: str) -> bytes:
    """A domain's image signed with `key` (a PEM path or a pkcs11: URI): what its partitions hold."""
    try:
        return mcuimage.sign(image.data, load=image.load_address, entry=image.entry, hart=image.hart,
                             version=image.version, security_counter=image.security_counter, key=key)
    except mcuimage.ImageError as e:
        raise FlashError(str(e)) from None


def image_version(raw: bytes) -> str | None:
    """The version a firmware partition's MCUboot header gives its image ("1.2.3"), or None: no
    header, or version 0.0.0. What the secure firmware reports through PLDM
    GetFirmwareParameters (cmu610_image.c reads the same field)."""
    v = mcuimage.image_version(raw)
    return ".".join(map(str, v)) if v else None


def trailer(generation: int = 0, confirmed: bool = True) -> bytes:
    """The TRAILER_SIZE bytes that end an A/B slot holding a whole image: confirmed (a factory
    image) or pending its trial (an update), newer than every slot of a lower generation."""
    out = bytearray([ERASED]) * TRAILER_SIZE
    out[GENERATION_OFF:GENERATION_OFF + 4] = struct.pack("<I", ~generation & 0xFFFFFFFF)
    if confirmed:
        out[IMAGE_OK_OFF] = FLAG_SET
    out[MAGIC_OFF:] = BOOT_MAGIC
    return bytes(out)


def pack(partitions: Sequence[Partition], images: Mapping[str, Image], flash_size: int, *, boot: bytes,
         key: str, trusted: Sequence[bytes] | None = None) -> bytes:
    """One flash_size image: `boot` (the boot stage, raw) at the start of the boot partition, each
    domain's image (`images` keyed by domain) signed with `key` in its firmware partitions, in
    slot A and in slot B alike (a factory image: either slot boots; both confirmed, generation 0,
    so slot A starts), the keys partition with the
    `trusted` key hashes (default: the signing key's) and every anti-rollback counter at 0, 0xFF
    everywhere else. A domain without an image, an image without a partition, or one that does
    not fit is a FlashError."""
    out = bytearray([ERASED]) * flash_size
    unused = set(images)
    signatures: dict[str, bytes] = {}
    for p in sorted(partitions, key=lambda p: p.offset):
        if p.offset + p.size > flash_size:
            raise FlashError(f"{p.name}: ends at {p.offset + p.size:#x}, past the end of the {flash_size:#x}-byte flash")
        if p.role == "boot":
            content, what = boot, "the boot stage"
        elif p.role == "firmware":
            content, what = _image_content(p, images, key, signatures)
            unused.discard(p.domain)
        elif p.name == KEYS:
            content, what = _keys_content(p, key, trusted), "the key hashes and anti-rollback counters"
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
    if not any(p.name == KEYS for p in partitions):
        raise FlashError(f"no {KEYS} partition: the boot stage has no key to trust the images by")
    return bytes(out)


def signed_image(partitions: Sequence[Partition], flash: bytes, domain: str) -> bytes:
    """The signed image a packed flash holds for `domain` (in its first firmware partition, as
    `pack` wrote it): what an update package carries."""
    p = min((p for p in partitions if p.role == "firmware" and p.domain == domain), key=lambda p: p.offset)
    raw = flash[p.offset:p.offset + p.size - (TRAILER_SIZE if p.slot else 0)]
    try:
        return raw[:mcuimage.verify(raw, p.name).size + OVERHEAD]
    except mcuimage.ImageError as e:
        raise FlashError(str(e)) from None


def _image_content(p: Partition, images: Mapping[str, Image], key: str, signatures: dict[str, bytes]) -> tuple[bytes, str]:
    """A firmware partition's bytes (the signed image, signed once per domain) and how to name them."""
    if p.domain not in images:
        have = ", ".join(sorted(images)) or "none"
        raise FlashError(f"{p.name}: no image given for the {p.domain} domain (have: {have})")
    image = images[p.domain]
    if image.hart != p.hart:
        raise FlashError(f"{p.name}: the {p.domain} image is for hart {image.hart}, the partition's domain runs on hart {p.hart}")
    if p.domain not in signatures:
        signatures[p.domain] = signed(image, key)
    return signatures[p.domain], f"the {p.domain} image ({len(image.data)} bytes + {OVERHEAD} of signed header and TLVs)"


def _keys_content(p: Partition, key: str, trusted: Sequence[bytes] | None) -> bytes:
    """The keys partition: the trusted key hashes, every anti-rollback counter erased (0)."""
    try:
        hashes = list(trusted) if trusted is not None else [mcuimage.key_hash(mcuimage.public_key(key))]
        return mcuimage.keys_partition(hashes, p.size)
    except mcuimage.ImageError as e:
        raise FlashError(f"{p.name}: {e}") from None


def manifest(partitions: Sequence[Partition], flash: bytes) -> list[dict[str, object]]:
    """What each partition of a packed image holds: offset, size, sha256 of the partition's bytes,
    domain and hart (none for the boot partition: every hart starts there), for an image
    partition the signed image it carries, verified against the keys partition, and for the keys
    partition the key hashes and counters (JSON-ready)."""
    keys = next((flash[p.offset:p.offset + p.size] for p in partitions if p.name == KEYS), b"")
    out: list[dict[str, object]] = []
    for p in sorted(partitions, key=lambda p: p.offset):
        raw = flash[p.offset:p.offset + p.size]
        entry: dict[str, object] = {
            "partition": p.name, "offset": p.offset, "size": p.size, "role": p.role, "slot": p.slot,
            "domain": p.domain, "hart": None if p.role == "boot" else p.hart, "sha256": hashlib.sha256(raw).hexdigest(),
            "erased": raw.count(ERASED) == len(raw),
        }
        if p.role == "firmware":
            try:
                area = raw[:-TRAILER_SIZE] if p.slot else raw
                entry["image"] = mcuimage.verify(area, p.name, mcuimage.trusted_keys(keys)).as_dict()
            except mcuimage.ImageError as e:
                raise FlashError(str(e)) from None
        elif p.name == KEYS:
            entry["keys"] = {"key_sha256": [h.hex() for h in mcuimage.trusted_keys(raw)],
                             "anti_rollback": {d: mcuimage.otp_value(raw, d) for d in mcuimage.OTP_DOMAINS}}
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
    signed image (the image, its header and TLVs) in each of its firmware partitions; RAM, the span its segments take
    of the domain's RAM window (code, data, .bss, .noinit, stacks: everything Zephyr places there),
    from the window's base. Segments outside the window (none today) are counted apart."""
    inside = [s for s in segments if base <= s.address < base + size]
    used = max((s.address + s.memsz for s in inside), default=base) - base
    outside = sum(s.memsz for s in segments if s not in inside)
    slots = [p for p in partitions if p.domain == domain and p.role == "firmware"]
    rom = OVERHEAD + len(image.data)
    return {
        "hart": image.hart,
        "rom": {"used": rom, "size": min((p.size for p in slots), default=0), "partitions": [p.name for p in slots]},
        "ram": {"base": base, "used": used, "size": size, "outside_window": outside},
    }
