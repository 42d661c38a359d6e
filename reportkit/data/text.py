"""Text normalisation shared by every reader and matcher.

Workbooks arrive typed by hand: full-width digits and letters, ideographic spaces (U+3000),
stray spaces inside names. Every name and value goes through the same two functions so that a
header, an alias and a cell compare equal whenever a person would say they are equal.
"""

from __future__ import annotations

import re
import unicodedata

_ANY_SPACE = re.compile(r"\s+", re.UNICODE)


def normalize_value(value: str) -> str:
    """NFKC and trim: how every text cell is stored."""
    return unicodedata.normalize("NFKC", value).strip()


def normalize_name(name: str) -> str:
    """NFKC with all whitespace removed: how sheet names, headers and vocabulary are compared."""
    return _ANY_SPACE.sub("", unicodedata.normalize("NFKC", name))
