"""A capture request's public id: the reference customers and staff read to each other.

New ids are 9 characters of Crockford's base32 (45 random bits from ``secrets``), shown and
stored in three groups of three: ``K7F-3QX-2M9``. Crockford's alphabet leaves out I, L, O and
U, so nothing read over a phone line is ambiguous, and it says how to read what people type:
any case, I and L mean 1, O means 0, hyphens and spaces are only there to help the eye. Every
place where staff or customers type or paste an id goes through ``candidates``.

Ids issued before (10 characters of the URL-safe base64 alphabet, case-sensitive, such as
``3l_lzxTZBH``) keep working, but only exactly as stored: folding their case would make two
different old ids the same. Old ids are 10 characters long and new ones 11, so no stored old
id can ever equal a stored new one.

45 bits keep a collision between two live ids negligible (one in 35 thousand billion per pair);
the creator draws again on the rare clash the unique constraint reports.
"""

from __future__ import annotations

import re
import secrets

#: Crockford's base32 alphabet: digits and capitals without I, L, O, U.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP_LENGTH = 3
GROUPS = 3
CHARACTERS = GROUP_LENGTH * GROUPS
RANDOM_BITS = CHARACTERS * 5  # 45: each Crockford character carries 5 bits

_CHAR = "[0-9A-HJKMNP-TV-Z]"
_NEW_SHAPE = rf"{_CHAR}{{3}}-{_CHAR}{{3}}-{_CHAR}{{3}}"
_OLD_SHAPE = r"[A-Za-z0-9_-]{10}"
#: What a stored public id looks like: the new grouped shape, or an id issued before it.
STORED_PATTERN = re.compile(rf"^(?:{_NEW_SHAPE}|{_OLD_SHAPE})$")
_OLD_PATTERN = re.compile(rf"^{_OLD_SHAPE}$")
#: Separators people type or paste between groups: spaces (also non-breaking) and dashes.
_SEPARATORS = re.compile(r"[\s\-\u2010\u2011\u2012\u2013\u2014\u2212]+")
#: Crockford's reading of the look-alikes: I and L are 1, O is 0.
_LOOK_ALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})
#: Far longer than any id, however spaced; anything longer is not looked at.
_MAX_TYPED_LENGTH = 40


def new_public_id() -> str:
    """A fresh id in the grouped shape, e.g. ``K7F-3QX-2M9``."""
    characters = "".join(secrets.choice(ALPHABET) for _ in range(CHARACTERS))
    return _grouped(characters)


def normalised(typed: str | None) -> str | None:
    """``typed`` read the way Crockford intends, in the stored grouped shape, or None if it is
    not 9 Crockford characters once separators are dropped (``" k7f 3qx 2m9 "`` ->
    ``"K7F-3QX-2M9"``)."""
    if not typed or len(typed) > _MAX_TYPED_LENGTH:
        return None
    characters = _SEPARATORS.sub("", typed).upper().translate(_LOOK_ALIKES)
    if len(characters) != CHARACTERS or any(c not in ALPHABET for c in characters):
        return None
    return _grouped(characters)


def candidates(typed: str | None) -> tuple[str, ...]:
    """The stored ids that ``typed`` may mean: the new-shape reading, and ``typed`` itself
    (trimmed) when it is an old id. Empty when it can be neither, so nothing is looked up.
    Should both exist, the finders prefer the exact old id (``capture.visibility``)."""
    text = (typed or "").strip()
    found = []
    new = normalised(text)
    if new is not None:
        found.append(new)
    if _OLD_PATTERN.match(text) and text not in found:
        found.append(text)
    return tuple(found)


def _grouped(characters: str) -> str:
    return "-".join(
        characters[start : start + GROUP_LENGTH]
        for start in range(0, len(characters), GROUP_LENGTH)
    )
