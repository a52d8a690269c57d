"""Password hashing: bcrypt over a pre-hash (SHA-256, or HMAC-SHA-256 under PASSWORD_PEPPER),
and a dummy check for unknown users."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from importlib import resources

import bcrypt

# Decoration people add to a common password to pass composition rules: "Dragon2024!".
_TRAILING_DECORATION = re.compile(r"[\W\d_]+$")

# How a stored hash pre-hashed the password before bcrypt; stored beside the hash. A user's
# record without one was hashed with PREHASH_SHA256 (before peppers existed).
PREHASH_SHA256 = "sha256"
PREHASH_HMAC_SHA256 = "hmac-sha256"


def _prehash(password: str, pepper: bytes | None) -> bytes:
    """bcrypt reads at most 72 bytes (5.0 refuses more): hash first so every byte counts.

    With a pepper it is HMAC-SHA-256 keyed by it: a stolen database alone (hashes without the
    pepper, which lives outside Redis) then cannot be cracked offline. base64 keeps NUL bytes
    out of bcrypt's input; 44 bytes fit its limit. ``surrogatepass`` lets any string JSON can
    carry be hashed instead of raising.
    """
    data = password.encode("utf-8", "surrogatepass")
    if pepper is None:
        digest = hashlib.sha256(data).digest()
    else:
        digest = hmac.new(pepper, data, hashlib.sha256).digest()
    return base64.b64encode(digest)


class PasswordHasher:
    """Hashes and checks passwords at one bcrypt cost, under the pepper when there is one."""

    def __init__(self, rounds: int, pepper: str = "") -> None:
        self.rounds = rounds
        self._pepper = pepper.encode() if pepper else None
        # The pre-hash of every hash made now; hashes of another one are upgraded at login.
        self.scheme = PREHASH_HMAC_SHA256 if pepper else PREHASH_SHA256
        # Checked against when the email is unknown, so both answers cost one bcrypt check.
        self._dummy_hash = self.hash("rotor dummy password, never matches").encode()

    def hash(self, password: str) -> str:
        """A ``$2b$`` hash of the password, pre-hashed as ``self.scheme`` says."""
        salt = bcrypt.gensalt(self.rounds)
        return bcrypt.hashpw(_prehash(password, self._pepper), salt).decode()

    def verify(self, password: str, password_hash: str | None, scheme: str | None = None) -> bool:
        """Check a password in constant time against a hash made with ``scheme`` (None: plain
        SHA-256, as hashes made before peppers); with no hash, spend the same time and fail.
        A peppered hash cannot be checked without the pepper: it fails (after the same work).
        """
        if password_hash is None:
            bcrypt.checkpw(_prehash(password, self._pepper), self._dummy_hash)
            return False
        if (scheme or PREHASH_SHA256) == PREHASH_SHA256:
            return bcrypt.checkpw(_prehash(password, None), password_hash.encode())
        if scheme != PREHASH_HMAC_SHA256 or self._pepper is None:
            bcrypt.checkpw(_prehash(password, self._pepper), self._dummy_hash)
            return False
        return bcrypt.checkpw(_prehash(password, self._pepper), password_hash.encode())

    def needs_upgrade(self, scheme: str | None) -> bool:
        """Whether a hash made with ``scheme`` should be replaced by one made now (a pepper
        was configured after it was made)."""
        return (scheme or PREHASH_SHA256) != self.scheme


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("app.auth").joinpath("data", "common-passwords.txt").read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("# "))


def is_common_password(password: str) -> bool:
    """Whether a password is on the 30,000 most common list, ignoring case and the digits or
    symbols tacked on the end ("Password1!" is "password")."""
    common = _common_passwords()
    lowered = password.lower()
    return lowered in common or _TRAILING_DECORATION.sub("", lowered) in common
