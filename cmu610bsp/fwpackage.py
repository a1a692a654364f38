"""The BMC update package: a PLDM firmware update package (DMTF DSP0267, header format 1.0), so
that the BMC's libpldm can take it (decode_pldm_firmware_update_package accepts what this writes),
and `cmu610bsp update` on the twin and in CI.

One firmware device record (a UUID descriptor naming the machine; its FirmwareDevicePackageData
is this package's metadata, JSON: board, machine, domain, the A/B slots it was built for, the
image's version and sha256) and one component: the BMC slot's content (the signed MCUboot image), as
flash.pack puts it into a slot.

Standard library only and nothing from cmu610bsp, like flash.py: the layer's packer writes the
package inside BitBake (files/cmu610_fwpackage.py is a byte-for-byte copy).
"""

from __future__ import annotations

import hashlib
import json
import struct
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HEADER_V1_0 = bytes.fromhex("f018878ccb7d49439800a02f059aca02")   # PackageHeaderIdentifier, DSP0267 1.0
FORMAT_REVISION = 1
ASCII = 1                          # string type
DESCRIPTOR_UUID = 0x0002
CLASS_FIRMWARE = 0x000A            # ComponentClassification
COMPONENT_BMC = 1                  # ComponentIdentifier of the BMC image
USE_COMPARISON_STAMP = 1 << 1      # ComponentOptions
ACTIVATE_ON_RESET = 1 << 2         # RequestedComponentActivationMethod: medium-specific reset (A/B trial)
BITMAP_BITS = 8
_FIXED = struct.Struct("<16sBH13sHBB")
_RECORD = struct.Struct("<HBIBBH")
_COMPONENT = struct.Struct("<HHIHHIIBB")
# the namespace of the machines' device UUIDs: uuid5 of this URL, then of the machine's name
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cmu610bsp/fw-device")


class PackageError(Exception):
    """A file that is not an update package this tool wrote, and why."""


@dataclass(frozen=True)
class Package:
    """An update's image (what a BMC slot holds before its trailer) and its metadata."""

    image: bytes
    metadata: dict[str, object]
    version: str


def ab_slots(partitions: Iterable[Mapping[str, Any]], domain: str = "bmc") -> list[dict[str, object]]:
    """The domain's A/B slots of a partition table (flash.Partition fields, as flash-layout.json
    holds them): what a package is built for and `cmu610bsp update` checks against its flash."""
    return [{"name": p["name"], "offset": p["offset"], "size": p["size"]}
            for p in sorted(partitions, key=lambda p: p["offset"]) if p["domain"] == domain and p.get("slot")]


def metadata(board: str, machine: str, version: str, partitions: Iterable[Mapping[str, Any]]) -> dict[str, object]:
    """What a package says of itself (its FirmwareDevicePackageData, with the image's sha256)."""
    return {"board": board, "machine": machine, "domain": "bmc", "version": version, "slots": ab_slots(partitions)}


def device_uuid(machine: str) -> bytes:
    return uuid.uuid5(_NAMESPACE, machine).bytes


def _timestamp104(epoch: int | None) -> bytes:
    """DSP0240's timestamp104 (UTC, resolution unspecified); all zeros without a time, so that a
    package is byte-for-byte reproducible (the packer passes SOURCE_DATE_EPOCH)."""
    if epoch is None:
        return bytes(13)
    t = datetime.fromtimestamp(epoch, tz=UTC)
    return struct.pack("<hI", 0, t.microsecond)[:5] + bytes([t.second, t.minute, t.hour, t.day, t.month]) + \
        struct.pack("<HB", t.year, 0)


def _stamp(version: str) -> int:
    """ComponentComparisonStamp: major, minor, revision of "1.2.3" as 8, 8 and 16 bits."""
    parts = [int(p) if p.isdigit() else 0 for p in version.split(".")[:3]] + [0, 0, 0]
    return (parts[0] & 0xFF) << 24 | (parts[1] & 0xFF) << 16 | (parts[2] & 0xFFFF)


def write(pkg: Package, machine: str, epoch: int | None = None) -> bytes:
    """The package's bytes."""
    version = pkg.version.encode("ascii")
    data = json.dumps({**pkg.metadata, "sha256": hashlib.sha256(pkg.image).hexdigest()}, sort_keys=True).encode()
    if not 0 < len(version) < 256 or len(data) > 0xFFFF:
        raise PackageError(f"version {pkg.version!r} or metadata ({len(data)} bytes) too long for the package")
    descriptors = struct.pack("<HH", DESCRIPTOR_UUID, 16) + device_uuid(machine)
    body = _RECORD.pack(0, 1, 0, ASCII, len(version), len(data)) + bytes([1]) + version + descriptors + data
    record = struct.pack("<H", len(body)) + body[2:]
    fd_area = bytes([1]) + record
    head = _FIXED.pack(HEADER_V1_0, FORMAT_REVISION, 0, _timestamp104(epoch), BITMAP_BITS, ASCII, len(version)) + version
    size = len(head) + len(fd_area) + 2 + _COMPONENT.size + len(version) + 4
    component = struct.pack("<H", 1) + _COMPONENT.pack(
        CLASS_FIRMWARE, COMPONENT_BMC, _stamp(pkg.version), USE_COMPARISON_STAMP, ACTIVATE_ON_RESET,
        size, len(pkg.image), ASCII, len(version)) + version
    header = head[:17] + struct.pack("<H", size) + head[19:] + fd_area + component
    return header + struct.pack("<I", zlib.crc32(header)) + pkg.image


def read(raw: bytes) -> Package:
    """Parse and check a package (header checksum, one record, one component inside the file);
    a PackageError says what is wrong, its caller where."""
    try:
        return _read(raw)
    except (struct.error, IndexError):    # a field that points past the header's (or file's) end
        raise PackageError(f"truncated: {len(raw)} bytes end inside the package header") from None


def _read(raw: bytes) -> Package:
    ident, rev, size, _when, _bits, _vtype, vlen = _FIXED.unpack_from(raw, 0)
    if ident != HEADER_V1_0 or rev != FORMAT_REVISION:
        raise PackageError("not a PLDM firmware update package of header format 1.0")
    if len(raw) < size or size < _FIXED.size + 4:
        raise PackageError(f"the header says {size} bytes, the file holds {len(raw)}")
    (crc,) = struct.unpack_from("<I", raw, size - 4)
    if crc != zlib.crc32(raw[:size - 4]):
        raise PackageError("the package header checksum does not match its bytes")
    head = raw[:size - 4]              # the header's fields, each read inside it
    at = _FIXED.size + vlen
    version = head[_FIXED.size:at].decode("ascii", errors="replace")
    if head[at] != 1:
        raise PackageError(f"{head[at]} firmware device records, this tool writes one")
    rlen, _ndesc, _flags, _stype, _slen, dlen = _RECORD.unpack_from(head, at + 1)
    record_end = at + 1 + rlen
    data = head[max(0, record_end - dlen):record_end]
    at = record_end
    (count,) = struct.unpack_from("<H", head, at)
    if count != 1:
        raise PackageError(f"{count} components, this tool writes one (the BMC image)")
    *_, offset, length, _ctype, _clen = _COMPONENT.unpack_from(head, at + 2)
    if offset + length > len(raw):
        raise PackageError(f"the component runs {offset + length - len(raw)} bytes past the end of the file")
    image = raw[offset:offset + length]
    try:
        metadata = json.loads(data)
    except ValueError as e:
        raise PackageError(f"the package's metadata is not JSON: {e}") from None
    if not isinstance(metadata, dict) or metadata.get("sha256") != hashlib.sha256(image).hexdigest():
        raise PackageError("the component's sha256 does not match the package's metadata")
    return Package(image, metadata, version)
