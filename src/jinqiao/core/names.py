"""The one rule for every human-readable name the chain accepts (organizations, accounts,
validators, merchants, assets, the chain id).

A name is 1..``MAX_NAME_LENGTH`` characters of printable text in Unicode Normalization Form C,
with no white space at either end. "Printable" is Python's ``str.isprintable``: it refuses
control characters (C0, C1, DEL), format characters (which include the bidirectional overrides
and isolates such as U+202E, and the zero-width characters), separators other than the space,
surrogates, private-use and unassigned code points. So ``"\\u202egnp.exe"`` (which displays as
``exe.png``) and ``"a\\x00b"`` are refused, and one name cannot be written two ways.

Names are checked, not repaired: a contract that silently normalized would store something other
than what the sender signed. The SDK and CLI send what the user typed; the rejection says what to
change. Both checks read the Unicode database of the running Python (``unicodedata``); see
docs/adr/0009-names.md for why that is deterministic enough for consensus.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from jinqiao.core.errors import InvalidInput
from jinqiao.core.limits import MAX_NAME_LENGTH


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a display name, in words; ``None`` when it is acceptable."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"must be 1..{MAX_NAME_LENGTH} characters"
    for character in name:
        if not character.isprintable():
            category = unicodedata.category(character)
            return f"must be printable text (U+{ord(character):04X} is of category {category})"
    if name != name.strip():
        return "must not begin or end with white space"
    if not unicodedata.is_normalized("NFC", name):
        return "must be in Unicode normalization form C (NFC)"
    return None


def check_name(name: str, where: str) -> None:
    """Raise ``InvalidInput`` saying what is wrong with ``name`` (genesis and configuration)."""
    problem = name_problem(name)
    if problem is not None:
        raise InvalidInput(f"{where} {problem}")


NAME_SALT_BYTES = 32
PUBLISHED_NAME_SALT = bytes(NAME_SALT_BYTES)
"""The salt of the names already public elsewhere: the accounts of the genesis document, a new
organization's first admin and validators named in governance proposals (docs/adr/0029)."""


def name_commitment(hash_function: Callable[[bytes], bytes], salt: bytes, name: str) -> bytes:
    """What the registry keeps of an account's name: the suite hash of
    ``salt (32 bytes) || UTF-8 name``. Whoever holds the name and the salt can check them against
    the chain; with a random salt, nobody can test guessed names against it."""
    if len(salt) != NAME_SALT_BYTES:
        raise InvalidInput(f"a name salt is {NAME_SALT_BYTES} bytes", code="invalid_name_salt")
    return hash_function(salt + name.encode())
