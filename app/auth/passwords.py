"""Password hashing: bcrypt over a SHA-256 pre-hash, and a dummy check for unknown users."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

import bcrypt

# Decoration people add to a common password to pass composition rules: "Dragon2024!".
_TRAILING_DECORATION = re.compile(r"[\W\d_]+$")


def _prehash(password: str) -> bytes:
    """bcrypt reads at most 72 bytes (5.0 refuses more): hash first so every byte counts.

    base64 keeps NUL bytes out of bcrypt's input; 44 bytes fit its limit.
    ``surrogatepass`` lets any string JSON can carry be hashed instead of raising.
    """
    digest = hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest)


class PasswordHasher:
    """Hashes and checks passwords at one bcrypt cost."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        # Checked against when the email is unknown, so both answers cost one bcrypt check.
        self._dummy_hash = self.hash("rotor dummy password, never matches").encode()

    def hash(self, password: str) -> str:
        """A ``$2b$`` hash of the password."""
        return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(self.rounds)).decode()

    def verify(self, password: str, password_hash: str | None) -> bool:
        """Check a password in constant time; with no hash, spend the same time and fail."""
        if password_hash is None:
            bcrypt.checkpw(_prehash(password), self._dummy_hash)
            return False
        return bcrypt.checkpw(_prehash(password), password_hash.encode())


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
