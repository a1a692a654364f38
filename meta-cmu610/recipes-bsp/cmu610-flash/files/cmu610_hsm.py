"""Signing with a key that never leaves a PKCS#11 token (an HSM; SoftHSM in tests): a `pkcs11:`
URI (RFC 7512) names the token and the key, and `signer` turns it into a key object imgtool's
own API signs with (`imgtool.image.Image.create(key=...)`), so that MCUboot's format is written
by imgtool whatever holds the key.

Nothing from cmu610bsp is imported: the flash image recipe's packer can ship and run this file
as it runs flash.py (it needs imgtool, python-pkcs11 and cryptography, cmu610bsp's dependencies).

    pkcs11:token=cmu610;object=signing-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin

The module is the URI's `module-path`, else $PKCS11_MODULE; the user PIN is the URI's
`pin-source` (a file) or `pin-value`, else $PKCS11_PIN. cmu610bsp.yml records only the token's and
the key's labels: the module and the PIN are each machine's.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

MODULE_ENV = "PKCS11_MODULE"
PIN_ENV = "PKCS11_PIN"
ALGORITHMS = ("ed25519",)     # what the boot stage verifies (verify.c, libsodium)
# the attributes this tool acts on; any other (serial=, slot-id=, ...) is refused, not ignored, so
# that a URI never selects less precisely than its author wrote it
_PATH_ATTRS = {"token", "object", "id"}
_QUERY_ATTRS = {"module-path", "pin-source", "pin-value"}
_ED25519_OID = "1.3.101.112"


class HsmError(Exception):
    """A URI that names no usable key, or a token that refused, with what and why."""


@dataclass(frozen=True)
class Uri:
    """A parsed `pkcs11:` URI: its path attributes (token, object, id, ...) and query attributes
    (module-path, pin-source, pin-value), percent-decoded."""

    path: dict[str, str]
    query: dict[str, str]

    @property
    def token(self) -> str:
        return self.path["token"]

    @property
    def label(self) -> str:
        return self.path["object"]


def parse_uri(uri: str) -> Uri:
    """RFC 7512's syntax, the attributes this tool uses; a token and an object label are required
    (one key, found again on every machine the token is plugged into)."""
    if not uri.startswith("pkcs11:"):
        raise HsmError(f"{uri!r}: not a pkcs11: URI")
    body, _, query = uri[len("pkcs11:"):].partition("?")
    path = _attrs(body, ";", _PATH_ATTRS, uri)
    q = _attrs(query, "&", _QUERY_ATTRS, uri)
    for need in ("token", "object"):
        if not path.get(need):
            raise HsmError(f"{uri!r}: no {need}= attribute (the token's label and the key's label name the key)")
    return Uri(path, q)


def _attrs(text: str, sep: str, known: set[str], uri: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, text.split(sep)):
        name, eq, value = part.partition("=")
        if not eq or name not in known:
            raise HsmError(f"{uri!r}: {part!r} is not one of the attributes {', '.join(sorted(known))}")
        if name in out:
            raise HsmError(f"{uri!r}: {name}= given twice")
        out[name] = unquote(value)
    return out


def module_path(parsed: Uri, env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    module = parsed.query.get("module-path") or env.get(MODULE_ENV)
    if not module:
        raise HsmError(f"{parsed.token}/{parsed.label}: no PKCS#11 module: give module-path= in the URI or set ${MODULE_ENV}")
    if not Path(module).is_file():
        raise HsmError(f"{parsed.token}/{parsed.label}: PKCS#11 module {module} not found")
    return module


def pin(parsed: Uri, env: dict[str, str] | None = None) -> str | None:
    env = dict(os.environ) if env is None else env
    if "pin-value" in parsed.query:
        return parsed.query["pin-value"]
    source = parsed.query.get("pin-source")
    if source:
        path = source.removeprefix("file:")
        try:
            return Path(path).read_text().strip()
        except OSError as e:
            raise HsmError(f"{parsed.token}/{parsed.label}: pin-source {path}: {e.strerror}") from None
    return env.get(PIN_ENV) or None     # kas passes a variable it declares but the caller lacks as ""


def _session(parsed: Uri, rw: bool = False) -> Any:
    """An open session on the URI's token, logged in with its PIN (python-pkcs11 is imported here:
    only a pkcs11 key needs it)."""
    import pkcs11
    from pkcs11.exceptions import PKCS11Error

    try:
        lib = pkcs11.lib(module_path(parsed))
        token = lib.get_token(token_label=parsed.token)
        return token.open(rw=rw, user_pin=pin(parsed))
    except pkcs11.exceptions.NoSuchToken:
        raise HsmError(f"{parsed.token}/{parsed.label}: no token labelled {parsed.token!r} in {module_path(parsed)}") from None
    except (PKCS11Error, RuntimeError) as e:
        raise HsmError(f"{parsed.token}/{parsed.label}: the token refused: {type(e).__name__} {e}".rstrip()) from None


def _find(session: Any, parsed: Uri, cls: Any) -> Any:
    """The URI's key of class `cls` (its public or its private half) on the token."""
    from pkcs11.exceptions import MultipleObjectsReturned, NoSuchKey

    key_id = parsed.path["id"].encode("latin-1") if "id" in parsed.path else None
    try:
        return session.get_key(object_class=cls, label=parsed.label, id=key_id)
    except NoSuchKey:
        raise HsmError(f"{parsed.token}/{parsed.label}: no {cls.name.lower().replace('_', ' ')} labelled "
                       f"{parsed.label!r} on the token") from None
    except MultipleObjectsReturned:
        raise HsmError(f"{parsed.token}/{parsed.label}: several keys are labelled {parsed.label!r}: add id= to the URI") from None


def public_der(uri: str) -> tuple[str, bytes]:
    """(algorithm, the key's public key as DER SubjectPublicKeyInfo), read from the token."""
    from pkcs11 import Attribute, KeyType, ObjectClass

    parsed = parse_uri(uri)
    with _session(parsed) as s:
        key = _find(s, parsed, ObjectClass.PUBLIC_KEY)
        if key.key_type == KeyType.EC_EDWARDS:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ed25519

            point = bytes(key[Attribute.EC_POINT])
            raw = point[2:] if len(point) == 34 and point[0] == 0x04 else point  # an OCTET STRING around 32 bytes
            pub = ed25519.Ed25519PublicKey.from_public_bytes(raw)
            return "ed25519", pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        raise HsmError(f"{parsed.token}/{parsed.label}: a {key.key_type.name} key; "
                       f"this tool signs with {' or '.join(ALGORITHMS)}")


def generate(uri: str, algorithm: str) -> bytes:
    """Make a key pair on the token (the private half never leaves it) under the URI's label;
    returns the public key (DER). A label already on the token is refused: nothing is overwritten."""
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_named_curve_parameters

    parsed = parse_uri(uri)
    if algorithm not in ALGORITHMS:
        raise HsmError(f"algorithm {algorithm!r}: expected one of {', '.join(ALGORITHMS)}")
    with _session(parsed, rw=True) as s:
        if list(s.get_objects({Attribute.LABEL: parsed.label, Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
            raise HsmError(f"{parsed.token}/{parsed.label}: the token already has a key labelled {parsed.label!r}; "
                           "nothing was generated")
        curve = {Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)}
        params = s.create_domain_parameters(KeyType.EC_EDWARDS, curve, local=True)
        params.generate_keypair(store=True, label=parsed.label, id=parsed.path.get("id", secrets.token_hex(8)).encode("latin-1"))
    return public_der(uri)[1]


def sign_digest(uri: str, digest: bytes) -> bytes:
    """The token's Ed25519 signature of `digest` (32 bytes, a SHA-256: what imgtool signs for
    ED25519 images)."""
    from pkcs11 import Mechanism, ObjectClass

    parsed = parse_uri(uri)
    with _session(parsed) as s:
        return bytes(_find(s, parsed, ObjectClass.PRIVATE_KEY).sign(digest, mechanism=Mechanism.EDDSA))


def signer(uri: str) -> Any:
    """An imgtool key object for the URI's key: imgtool's own public-key class (its TLV kinds, its
    key hash, its hash table keyed by the exact class), given the one method imgtool signs with,
    which asks the token to sign the image digest (`sign_digest`)."""
    from cryptography.hazmat.primitives import serialization
    from imgtool.keys import ed25519

    _, der = public_der(uri)
    key: Any = ed25519.Ed25519Public(serialization.load_der_public_key(der))
    key.sign_digest = lambda digest: sign_digest(uri, digest)
    return key
