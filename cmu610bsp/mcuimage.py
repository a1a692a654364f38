"""Signed images in MCUboot's format, written by imgtool (MCUboot's own tool; `imgtool verify`
accepts them), and the keys partition the boot stage trusts them by.

Shipped beside flash.py into the layer (files/cmu610_mcuimage.py, byte for byte) and run inside
BitBake, so nothing from cmu610bsp: imgtool and cryptography only (imgtool depends on it).

An image: MCUboot header (IMAGE_F_RAM_LOAD, the load address, the image version), the domain's
raw image, protected TLVs (SEC_CNT: the security counter; TLV_BOOT: the hart that may run it and
its entry point), then SHA256 over all that, PUBKEY (the signing key, DER) and ED25519 (the
signature over the digest, as MCUboot's image_ed25519.c checks it). The boot stage
(data/bootstage/verify.c) accepts it when the key's sha256 is in one of the keys partition's two
slots (rotation: the next key goes in the second slot before images are signed with it) and the
security counter is not below the domain's anti-rollback counter.

Keys partition: 0 magic u32 b"C6KY", 4 format u32, 8 KEY_SLOTS sha256s (0xFF: empty); at
OTP_BASE one OTP_BYTES region per domain: an OTP emulation whose value is its number of cleared
bits, so flash programming (which only clears bits) can only make it grow.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

KEYS_MAGIC = 0x594B3643          # b"C6KY" read as a little-endian u32
KEYS_FORMAT = 1
KEY_SLOTS = 2
KEYS_HASHES = 8                  # where the slots' hashes start
OTP_BASE = 0x100
OTP_BYTES = 256                  # one region: counters 0 .. 2048
OTP_DOMAINS = ("secure", "bmc")
KEYS_MIN_SIZE = OTP_BASE + OTP_BYTES * len(OTP_DOMAINS)
TLV_BOOT = 0x0610                # vendor TLV (imgtool's custom range): hart u32, entry u32
IMAGE_MAGIC = 0x96F3B83D
HEADER_SIZE = 32
F_RAM_LOAD = 0x20
TLV_INFO, TLV_PROT_INFO = 0x6907, 0x6908
TLV_PUBKEY, TLV_SHA256, TLV_ED25519, TLV_SEC_CNT = 0x02, 0x10, 0x24, 0x50
ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")
# header + protected TLVs (info, SEC_CNT, TLV_BOOT) + TLVs (info, SHA256, PUBKEY, ED25519): what
# signing adds to an image, the same for every image (a test checks imgtool still writes this)
OVERHEAD = HEADER_SIZE + (4 + 8 + 12) + (4 + 36 + 48 + 68)
ERASED = 0xFF


class ImageError(Exception):
    """An image that cannot be signed or does not verify, with where and why."""


@dataclass(frozen=True)
class Signed:
    """What a verified image claims (JSON-ready through `as_dict`)."""

    load_address: int
    entry: int
    size: int
    hart: int
    security_counter: int
    version: tuple[int, int, int] | None
    payload_sha256: str          # of the domain's raw image
    image_sha256: str            # the SHA256 TLV: header, image and protected TLVs
    key_sha256: str              # the signing key's hash, as the keys partition holds it

    def as_dict(self) -> dict[str, object]:
        return {"load_address": self.load_address, "entry": self.entry, "size": self.size, "hart": self.hart,
                "security_counter": self.security_counter,
                "version": ".".join(map(str, self.version)) if self.version else None,
                "sha256": self.payload_sha256, "signed_sha256": self.image_sha256, "key_sha256": self.key_sha256}


def sign(data: bytes, *, load: int, entry: int, hart: int, version: tuple[int, int, int] | None,
         security_counter: int, key: str) -> bytes:
    """The ONE signing function: `data` as an MCUboot image signed with `key`, a PEM file's path
    (an Ed25519 private key) or a `pkcs11:` URI (a key in an HSM)."""
    # imgtool (and click, cbor2 behind it) only where an image is signed: reading versions does not need it
    from imgtool import image as imgtool_image
    from imgtool import keys as imgtool_keys
    from imgtool.version import decode_version

    if version is not None and not (0 <= version[0] < 256 and 0 <= version[1] < 256 and 0 <= version[2] < 65536
                                    and any(version)):
        raise ImageError(f"image version {'.'.join(map(str, version))}: the header holds major and minor 0-255, "
                         "revision 0-65535, not all 0 (MCUboot's header version; 0.0.0 is none)")
    if not 0 <= security_counter < OTP_BYTES * 8:
        raise ImageError(f"security counter {security_counter}: the anti-rollback counter holds 0-{OTP_BYTES * 8 - 1}")
    img = imgtool_image.Image(version=decode_version(".".join(map(str, version or (0, 0, 0)))),
                              header_size=HEADER_SIZE, pad_header=True, load_addr=load,
                              security_counter=security_counter)
    img.payload = bytes([ERASED] * HEADER_SIZE) + data
    img.infile_data = data
    img.image_size = len(data)
    tlvs = {TLV_BOOT: struct.pack("<II", hart, entry)}
    signer = _pkcs11_signer(key) if key.startswith("pkcs11:") else _pem_signer(key)
    if not isinstance(signer, imgtool_keys.Ed25519Public):
        raise ImageError(f"{shown(key)}: an {type(signer).__name__} key; the boot stage verifies Ed25519 signatures")
    with contextlib.redirect_stdout(io.StringIO()):     # imgtool prints "sign the digest"
        img.create(signer, "full", None, custom_tlvs=tlvs)
    out = bytes(img.payload)
    if len(out) != len(data) + OVERHEAD:
        raise ImageError(f"imgtool wrote {len(out) - len(data)} bytes around the image, expected {OVERHEAD}")
    return out


def _pem_signer(path: str) -> Any:
    from imgtool import keys as imgtool_keys

    try:
        return imgtool_keys.load(path)
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: not a readable private key: {e}") from None


def _pkcs11_signer(uri: str) -> Any:
    """An imgtool key object whose signatures the token makes: hsm.signer, from the HSM module
    (cmu610bsp.hsm; in the layer its neighbour cmu610_hsm.py, the copy in the task's signature),
    which needs python-pkcs11."""
    try:
        hsm = importlib.import_module("cmu610bsp.hsm" if __name__.startswith("cmu610bsp.") else "cmu610_hsm")
    except ImportError:
        raise ImageError(f"{shown(uri)}: signing with a PKCS#11 key needs the HSM module (hsm.py, python-pkcs11), "
                         "which this installation lacks") from None
    try:
        return hsm.signer(uri)
    except hsm.HsmError as e:
        raise ImageError(str(e)) from None


def shown(key: str) -> str:
    """A key as messages name it: a pkcs11: URI without its query (a module path, a PIN)."""
    return key.partition("?")[0] if key.startswith("pkcs11:") else key


def public_key(key: str) -> bytes:
    """The public key (DER SubjectPublicKeyInfo, as the PUBKEY TLV carries it) of a signing key:
    a PEM private key's path or a pkcs11: URI."""
    signer = _pkcs11_signer(key) if key.startswith("pkcs11:") else _pem_signer(key)
    return bytes(signer.get_public_bytes())


def key_hash(public_der: bytes) -> bytes:
    """What a keys partition slot holds for a key: the sha256 of its DER public key."""
    return hashlib.sha256(public_der).digest()


def keys_partition(hashes: Iterable[bytes], size: int, counters: Mapping[str, int] | None = None) -> bytes:
    """A keys partition of `size` bytes: up to KEY_SLOTS key hashes, each domain's OTP at `counters`
    (0 where not given: erased)."""
    hashes = list(hashes)
    if not 1 <= len(hashes) <= KEY_SLOTS or any(len(h) != 32 for h in hashes):
        raise ImageError(f"the keys partition holds 1 to {KEY_SLOTS} sha256 key hashes, got {len(hashes)}")
    if size < KEYS_MIN_SIZE:
        raise ImageError(f"keys: {size} bytes, the key slots and the anti-rollback counters need {KEYS_MIN_SIZE}")
    out = bytearray([ERASED]) * size
    out[:KEYS_HASHES] = struct.pack("<II", KEYS_MAGIC, KEYS_FORMAT)
    for i, h in enumerate(hashes):
        out[KEYS_HASHES + 32 * i:KEYS_HASHES + 32 * (i + 1)] = h
    for domain, value in (counters or {}).items():
        out = bytearray(advance_otp(bytes(out), domain, value))
    return bytes(out)


def trusted_keys(raw: bytes) -> list[bytes]:
    """The key hashes a keys partition holds (empty slots left out); none if it has no magic."""
    if len(raw) < KEYS_HASHES + 32 * KEY_SLOTS or struct.unpack_from("<I", raw)[0] != KEYS_MAGIC:
        return []
    slots = [raw[KEYS_HASHES + 32 * i:KEYS_HASHES + 32 * (i + 1)] for i in range(KEY_SLOTS)]
    return [h for h in slots if h != bytes([ERASED]) * 32]


def otp_offset(domain: str) -> int:
    """Where a domain's anti-rollback counter is in the keys partition."""
    return OTP_BASE + OTP_BYTES * OTP_DOMAINS.index(domain)


def otp_value(raw: bytes, domain: str) -> int:
    """A domain's anti-rollback counter: its region's cleared bits."""
    region = raw[otp_offset(domain):otp_offset(domain) + OTP_BYTES]
    return sum(8 - bin(b).count("1") for b in region)


def advance_otp(raw: bytes, domain: str, value: int) -> bytes:
    """The keys partition with the domain's counter at `value`, by clearing bits only (as flash
    programming does): a value below the current one is refused."""
    current = otp_value(raw, domain)
    if value < current or value > OTP_BYTES * 8:
        raise ImageError(f"keys: the {domain} anti-rollback counter is {current}; it only grows "
                         f"(to {OTP_BYTES * 8} at most), not to {value}")
    bits = bytearray(raw[otp_offset(domain):otp_offset(domain) + OTP_BYTES])
    cleared = current
    for i in range(len(bits) * 8):
        if cleared == value:
            break
        if bits[i // 8] >> (i % 8) & 1:
            bits[i // 8] &= ~(1 << (i % 8)) & 0xFF
            cleared += 1
    return raw[:otp_offset(domain)] + bytes(bits) + raw[otp_offset(domain) + OTP_BYTES:]


def image_version(raw: bytes) -> tuple[int, int, int] | None:
    """The version an MCUboot header gives its image, or None (no header, or 0.0.0)."""
    if len(raw) < HEADER_SIZE or struct.unpack_from("<I", raw)[0] != IMAGE_MAGIC:
        return None
    major, minor, revision = struct.unpack_from("<BBH", raw, 20)
    return (major, minor, revision) if (major, minor, revision) != (0, 0, 0) else None


def _tlvs(raw: bytes, at: int, magic: int, where: str) -> tuple[dict[int, bytes], int]:
    """The TLVs of the area at `at` (first of each type) and where the area ends."""
    if at + 4 > len(raw) or struct.unpack_from("<H", raw, at)[0] != magic:
        raise ImageError(f"{where}: no TLV area at {at:#x} (truncated image?)")
    end = at + struct.unpack_from("<H", raw, at + 2)[0]
    if end > len(raw):
        raise ImageError(f"{where}: the TLV area runs past the partition")
    out: dict[int, bytes] = {}
    i = at + 4
    while i + 4 <= end:
        kind, n = struct.unpack_from("<HH", raw, i)
        out.setdefault(kind, raw[i + 4:i + 4 + n])
        i += 4 + n
    return out, end


def verify(raw: bytes, where: str, trusted: Iterable[bytes] | None = None) -> Signed:
    """What the boot stage checks of a slot's bytes, short of the domain's hart, RAM and counter:
    whole, hash, signature, and (given `trusted` key hashes) a trusted key."""
    if len(raw) < HEADER_SIZE or struct.unpack_from("<I", raw)[0] != IMAGE_MAGIC:
        raise ImageError(f"{where}: bad magic (no signed image)")
    load, hdr, prot, size, flags = struct.unpack_from("<IHHII", raw, 4)
    if hdr < HEADER_SIZE or hdr + size > len(raw):
        raise ImageError(f"{where}: image runs past the partition")
    protected, pend = _tlvs(raw, hdr + size, TLV_PROT_INFO, where) if prot else ({}, hdr + size)
    tlvs, _ = _tlvs(raw, pend, TLV_INFO, where)
    digest = hashlib.sha256(raw[:pend]).digest()
    if tlvs.get(TLV_SHA256) != digest:
        raise ImageError(f"{where}: hash mismatch (header, image or protected TLVs changed)")
    der, sig = tlvs.get(TLV_PUBKEY, b""), tlvs.get(TLV_ED25519, b"")
    if len(der) != 44 or not der.startswith(ED25519_SPKI) or len(sig) != 64:
        raise ImageError(f"{where}: no Ed25519 public key or signature TLV")
    if trusted is not None and key_hash(der) not in list(trusted):
        raise ImageError(f"{where}: signed with a key that is not in the keys partition")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(der[len(ED25519_SPKI):]).verify(sig, digest)
    except InvalidSignature:
        raise ImageError(f"{where}: bad signature") from None
    if len(protected.get(TLV_SEC_CNT, b"")) != 4 or len(protected.get(TLV_BOOT, b"")) != 8 or flags != F_RAM_LOAD:
        raise ImageError(f"{where}: no security counter or boot TLV, or unsupported image flags")
    hart, entry = struct.unpack("<II", protected[TLV_BOOT])
    return Signed(load, entry, size, hart, struct.unpack("<I", protected[TLV_SEC_CNT])[0], image_version(raw),
                  hashlib.sha256(raw[hdr:hdr + size]).hexdigest(), digest.hex(), key_hash(der).hex())
