"""Field protection for sensitive personal data (R20, R22).

Full values are encrypted with an AEAD cipher whose name and key id travel inside the
ciphertext, so both can change over time: the first configured key encrypts, every configured
key decrypts, and ``manage.py rotate_field_keys`` re-encrypts old rows under the current key.
Matching uses a keyed blind index (HMAC) with a separate key, never a bare hash.

Ciphers are registered by name in ``CIPHERS`` (``a1`` = AES-256-GCM, the default; ``s1`` =
SM4-GCM for 商用密码 deployments); ``JINSHEQU_FIELD_CIPHER`` selects the one used to encrypt.
Blind indexes are registered in ``BLIND_INDEXES`` (``hmac-sha256`` default, ``hmac-sm3``) and
selected by ``JINSHEQU_BLIND_INDEX``; changing it (or the HMAC key) changes every hash, so it
needs a re-hash of the stored indexes.

Ciphertext format: ``<cipher>:<key id>:<base64url(nonce || ciphertext+tag)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DecryptionError(Exception):
    """Raised when a value cannot be decrypted (unknown key id, wrong key, tampered data)."""


class AesGcmCipher:
    """AES-256-GCM with a random 96-bit nonce; ``aad`` binds the value to its purpose."""

    name = "a1"
    key_size = 32

    def __init__(self, key: bytes) -> None:
        if len(key) != self.key_size:
            raise ImproperlyConfigured(f"AES-GCM field keys must be {self.key_size} bytes")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(blob[:12], blob[12:], aad)


class Sm4GcmCipher:
    """SM4-GCM (GB/T 32907 block cipher in GCM mode), for deployments assessed under GB/T 39786.

    Uses the first 16 bytes of the configured key so that the same key material format serves
    both ciphers.
    """

    name = "s1"
    key_size = 16
    tag_size = 16

    def __init__(self, key: bytes) -> None:
        if len(key) < self.key_size:
            raise ImproperlyConfigured(f"SM4-GCM field keys must be at least {self.key_size} bytes")
        self._key = key[: self.key_size]

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        body = enc.update(plaintext) + enc.finalize()
        return nonce + body + enc.tag

    def decrypt(self, blob: bytes, aad: bytes) -> bytes:
        if len(blob) < 12 + self.tag_size:
            raise InvalidTag
        nonce, body, tag = blob[:12], blob[12 : -self.tag_size], blob[-self.tag_size :]
        dec = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(body) + dec.finalize()


CIPHERS: dict[str, type] = {AesGcmCipher.name: AesGcmCipher, Sm4GcmCipher.name: Sm4GcmCipher}


def _hmac_sha256(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _hmac_sm3(key: bytes, data: bytes) -> str:
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()


BLIND_INDEXES: dict[str, Callable[[bytes, bytes], str]] = {"hmac-sha256": _hmac_sha256, "hmac-sm3": _hmac_sm3}

# Every encrypted column: (model label, ciphertext field, purpose bound as associated data).
# ``rotate_field_keys`` re-encrypts exactly these.
ENCRYPTED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("members.Member", "id_number_enc", "id_number"),
    ("members.Member", "phone_enc", "phone"),
    ("posts.Household", "address_enc", "household_address"),
    ("posts.Household", "phone_enc", "household_phone"),
)


@dataclass(frozen=True)
class Keyring:
    cipher: str
    current_kid: str
    keys: dict[str, bytes]
    hmac_key: bytes
    blind_index: str


def _derive(label: str, secret: str) -> bytes:
    return hashlib.sha256(f"jinshequ:{label}:{secret}".encode()).digest()


def _b64decode(value: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{what} is not valid base64") from exc


def parse_field_keys(raw: str) -> list[tuple[str, bytes]]:
    """``"kid:base64,kid2:base64"`` → ``[(kid, key), …]``; the first entry is the current key."""
    pairs: list[tuple[str, bytes]] = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        kid, sep, b64 = item.partition(":")
        if not sep or not kid.isascii() or not kid.isalnum():
            raise ImproperlyConfigured("JINSHEQU_FIELD_KEYS entries must look like 'kid:base64key'")
        if any(kid == seen for seen, _ in pairs):
            raise ImproperlyConfigured(f"JINSHEQU_FIELD_KEYS lists key id {kid!r} twice")
        key = _b64decode(b64, f"JINSHEQU_FIELD_KEYS key {kid!r}")
        if len(key) != 32:
            raise ImproperlyConfigured(f"JINSHEQU_FIELD_KEYS key {kid!r} must decode to 32 bytes")
        pairs.append((kid, key))
    return pairs


@lru_cache(maxsize=8)
def _keyring(field_keys: str, hmac_key: str, secret: str, cipher: str, blind: str) -> Keyring:
    if cipher not in CIPHERS:
        raise ImproperlyConfigured(f"JINSHEQU_FIELD_CIPHER must be one of {sorted(CIPHERS)}")
    if blind not in BLIND_INDEXES:
        raise ImproperlyConfigured(f"JINSHEQU_BLIND_INDEX must be one of {sorted(BLIND_INDEXES)}")
    pairs = parse_field_keys(field_keys) if field_keys else [("dev", _derive("field", secret))]
    if not pairs:
        raise ImproperlyConfigured("JINSHEQU_FIELD_KEYS holds no key")
    hkey = _b64decode(hmac_key, "JINSHEQU_HMAC_KEY") if hmac_key else _derive("hmac", secret)
    if len(hkey) < 32:
        raise ImproperlyConfigured("JINSHEQU_HMAC_KEY must decode to at least 32 bytes")
    if any(hkey == key for _, key in pairs):
        raise ImproperlyConfigured("JINSHEQU_HMAC_KEY must differ from every field key")
    return Keyring(cipher=cipher, current_kid=pairs[0][0], keys=dict(pairs), hmac_key=hkey, blind_index=blind)


def keyring() -> Keyring:
    return _keyring(
        settings.JINSHEQU_FIELD_KEYS,
        settings.JINSHEQU_HMAC_KEY,
        settings.SECRET_KEY,
        getattr(settings, "JINSHEQU_FIELD_CIPHER", AesGcmCipher.name),
        getattr(settings, "JINSHEQU_BLIND_INDEX", "hmac-sha256"),
    )


@lru_cache(maxsize=32)
def _cipher(name: str, kid: str, key: bytes):
    return CIPHERS[name](key)


def current_prefix() -> str:
    """The prefix every value encrypted now starts with, e.g. ``"a1:k2:"``."""
    ring = keyring()
    return f"{ring.cipher}:{ring.current_kid}:"


def _seal(data: bytes, purpose: str) -> tuple[str, bytes]:
    """``data`` encrypted under the current cipher and key: (``"<cipher>:<key id>:"``, nonce || ciphertext+tag)."""
    ring = keyring()
    blob = _cipher(ring.cipher, ring.current_kid, ring.keys[ring.current_kid]).encrypt(data, purpose.encode())
    return f"{ring.cipher}:{ring.current_kid}:", blob


def _open(cipher_name: str, kid: str, blob: bytes, purpose: str) -> bytes:
    if cipher_name not in CIPHERS:
        raise KeyError(cipher_name)
    return _cipher(cipher_name, kid, keyring().keys[kid]).decrypt(blob, purpose.encode())


def encrypt(value: str, *, purpose: str) -> str:
    """Encrypt ``value``; ``purpose`` (e.g. ``"id_number"``) is bound as associated data."""
    prefix, blob = _seal(value.encode(), purpose)
    return prefix + base64.urlsafe_b64encode(blob).decode().rstrip("=")


def decrypt(token: str, *, purpose: str) -> str:
    """Decrypt a value made by ``encrypt``; any failure raises ``DecryptionError``."""
    try:
        cipher_name, kid, b64 = token.split(":", 2)
        return _open(
            cipher_name, kid, base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), purpose
        ).decode()
    except Exception as exc:  # any failure is the same failure to callers
        raise DecryptionError("cannot decrypt field value") from exc


def encrypt_bytes(data: bytes, *, purpose: str) -> bytes:
    """Encrypt a file's content: ``b"<cipher>:<key id>:" + nonce || ciphertext+tag`` (``purpose`` bound)."""
    prefix, blob = _seal(data, purpose)
    return prefix.encode() + blob


def decrypt_bytes(blob: bytes, *, purpose: str) -> bytes:
    """Decrypt content made by ``encrypt_bytes``; any failure raises ``DecryptionError``."""
    try:
        cipher_name, kid, body = blob.split(b":", 2)
        return _open(cipher_name.decode("ascii"), kid.decode("ascii"), body, purpose)
    except Exception as exc:  # any failure is the same failure to callers
        raise DecryptionError("cannot decrypt file content") from exc


def key_id_of(token: str) -> str:
    return token.split(":", 2)[1]


def needs_rotation(token: str) -> bool:
    """True when a stored ciphertext is not under the current cipher and key id."""
    return bool(token) and not token.startswith(current_prefix())


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed HMAC used to match a value without storing it (hex digest, 64 characters)."""
    ring = keyring()
    return BLIND_INDEXES[ring.blind_index](ring.hmac_key, f"{purpose}:{value}".encode())
