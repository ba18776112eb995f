"""ISBT 128 Donation Identification Numbers (DIN) and their check character.

A DIN is ``αppppyynnnnnn``: a 5-character Facility Identification Number
(FIN), a 2-digit nominal year and a 6-digit sequence. The keyboard check
character is ISO/IEC 7064 MOD 37-2 over those 13 characters
(ISBT 128 ST-001; see ``shared/domain.md`` §1.2-1.3).
"""

from __future__ import annotations

import functools
import re

CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"

# α: A-N, P-Z, 1-9 (no O, no 0); pp: A-N, P-Z, 0-9; pp: digits; yy; nnnnnn.
_DIN_PATTERN = re.compile(r"[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{2}[0-9]{2}[0-9]{6}")
_FIN_PATTERN = re.compile(r"[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{2}")


class InvalidDIN(ValueError):
    """A DIN that is not 13 well-formed characters or fails its check character.

    Messages never include the offending value beyond its length: a DIN is not
    PII, but keeping reasons value-free keeps the rule simple for every field.
    """


#: How many recent DINs derived values (check characters, stream ids) are cached for:
#: a donation's ~20 facts arrive over days, and a region collects ~150 donations a day.
RECENT_DINS = 16384


@functools.lru_cache(maxsize=RECENT_DINS)
def check_character(din: str) -> str:
    """Return the MOD 37-2 keyboard check character of a 13-character DIN."""
    total = 0
    for char in din:
        total = ((total + CHECK_ALPHABET.index(char)) * 2) % 37
    return CHECK_ALPHABET[(38 - total) % 37]


def validate_din(din: str, din_check: str | None = None) -> None:
    """Raise :class:`InvalidDIN` unless ``din`` is well formed (and matches its check)."""
    if len(din) != 13:
        msg = f"DIN must be 13 characters, got {len(din)}"
        raise InvalidDIN(msg)
    if not _DIN_PATTERN.fullmatch(din):
        msg = "DIN is not of the ISBT 128 shape FIN(5) + year(2) + sequence(6)"
        raise InvalidDIN(msg)
    if din_check is not None and check_character(din) != din_check:
        msg = "DIN check character does not match (ISO/IEC 7064 MOD 37-2)"
        raise InvalidDIN(msg)


def is_fin(value: str) -> bool:
    """True if ``value`` has the shape of an ISBT 128 Facility Identification Number."""
    return bool(_FIN_PATTERN.fullmatch(value))
