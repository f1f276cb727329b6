"""Mainland resident ID numbers (GB 11643-1999): validation, keyed hash, encryption, masking.

The clear number is sensitive personal information (PIPL): it exists only in memory while a
request is handled. At rest we keep an HMAC (for equality look-ups: login and binding), a Fernet
ciphertext (for a data-subject export on request) and a masked display form.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.fernet import Fernet
from django.conf import settings

from config.errors import ApplicationError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_FORMAT = re.compile(r"^\d{17}[\dX]$")
TICKET_FORMAT = re.compile(r"^1[3-9]\d{9}$")  # admission ticket = 11-digit mainland mobile number


class InvalidIdNumber(ApplicationError):
    code = "invalid_id_number"
    default_message = "身份证号格式不正确 (invalid ID card number)."


class InvalidTicketNumber(ApplicationError):
    code = "invalid_ticket_number"
    default_message = "准考证号应为11位手机号 (the ticket number is the 11-digit mobile number)."


def normalise(raw: str) -> str:
    return raw.strip().upper().replace(" ", "")


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid(raw: str) -> bool:
    number = normalise(raw)
    return bool(_FORMAT.match(number)) and check_digit(number[:17]) == number[17]


def validate(raw: str) -> str:
    """The normalised number, or InvalidIdNumber (never echoing the number back)."""
    number = normalise(raw)
    if not is_valid(number):
        raise InvalidIdNumber()
    return number


def validate_ticket(raw: str) -> str:
    ticket = raw.strip()
    if not TICKET_FORMAT.match(ticket):
        raise InvalidTicketNumber()
    return ticket


def lookup_hash(number: str) -> str:
    key = str(settings.ID_NUMBER_HASH_KEY).encode()
    return hmac.new(key, normalise(number).encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    return Fernet(str(settings.FIELD_ENCRYPTION_KEY).encode())


def encrypt(number: str) -> str:
    return _fernet().encrypt(normalise(number).encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def encrypt_secret(value: str) -> str:
    """Fernet-encrypt another secret kept at rest (e.g. a WeChat session_key), unnormalised."""
    return _fernet().encrypt(value.encode()).decode()


def decrypt_secret(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()


def mask(number: str) -> str:
    """``3201**********123X``: region prefix and last four, as Chinese institutions display it."""
    number = normalise(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def make_valid(first17: str) -> str:
    """Completes 17 digits with their check digit (demo data and tests)."""
    return first17 + check_digit(first17)
