"""Ed25519 signing of export manifests, with the key derived from settings.EXPORT_SIGNING_KEY.

Why Ed25519 and not HMAC: a committee or a regulator can check a bundle with the *public* key
alone; with HMAC every verifier would hold the secret that can also forge bundles. The private key
is derived deterministically (SHA-256 of a domain tag and the setting), so every process of a
deployment signs with the same key and no key file has to be distributed. The public key is
published with ``manage.py export_public_key`` (hex, plus its key id), and printed in each
manifest as a hint; verification always uses the key the verifier trusts, never the hint.

No Django imports below the settings helper: ``verify_export`` logic stays a pure function.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"
_DOMAIN = b"exam-cloud-monitor/evidence-export/ed25519/v1\x00"


def private_key_from_secret(secret: str) -> Ed25519PrivateKey:
    if not secret:
        raise ValueError("EXPORT_SIGNING_KEY is empty")
    seed = hashlib.sha256(_DOMAIN + secret.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_from_hex(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value.strip()))


def key_id(key: Ed25519PublicKey) -> str:
    """Short fingerprint people can compare by eye (first 16 hex chars of SHA-256)."""
    return hashlib.sha256(public_key_bytes(key)).hexdigest()[:16]


@dataclass(frozen=True)
class Signature:
    algorithm: str
    key_id: str
    public_key: str  # hex; a hint for humans, not trusted by the verifier
    signature: bytes

    def to_bytes(self) -> bytes:
        body = {
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": base64.b64encode(self.signature).decode(),
        }
        return (json.dumps(body, indent=2) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        body = json.loads(data.decode())
        return cls(
            algorithm=str(body["algorithm"]),
            key_id=str(body["key_id"]),
            public_key=str(body["public_key"]),
            signature=base64.b64decode(body["signature"], validate=True),
        )


def sign(message: bytes, private_key: Ed25519PrivateKey) -> Signature:
    public = private_key.public_key()
    return Signature(
        algorithm=ALGORITHM,
        key_id=key_id(public),
        public_key=public_key_bytes(public).hex(),
        signature=private_key.sign(message),
    )


def verify(message: bytes, signature: Signature, public_key: Ed25519PublicKey) -> bool:
    if signature.algorithm != ALGORITHM:
        return False
    try:
        public_key.verify(signature.signature, message)
    except InvalidSignature:
        return False
    return True


def configured_private_key() -> Ed25519PrivateKey:
    from django.conf import settings

    return private_key_from_secret(str(settings.EXPORT_SIGNING_KEY))


def configured_public_key() -> Ed25519PublicKey:
    return configured_private_key().public_key()
