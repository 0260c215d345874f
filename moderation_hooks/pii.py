"""PII redaction: e-mail addresses, phone numbers, street addresses and ID numbers.

``find_pii(text, kinds)`` returns the spans to hide; ``PiiRedaction`` is the hook. The
patterns aim at what members actually type in chat and deliberately leave alone things
that look like numbers but are not personal data: dates, times, doses, scores, ranges,
blood pressure, years and short counts. Each rule that would be too eager is narrowed, and
the trade-offs are listed in docs/moderation.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moderation_hooks.settings import SettingsReader
from moderation_hooks.verdict import Allow, MessageContext, Redact, Span, Verdict

KINDS = ("email", "phone", "address", "id")
LABELS = {"email": "email", "phone": "phone", "address": "address", "id": "id number"}

# --- e-mail -----------------------------------------------------------------------------
# A local part, "@", and a domain with a dot and a 2+ letter TLD: "@sam" or "me@home" stay.
# " at " / " dot " spellings are caught too ("sam dot lee at gmail dot com").
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])"
)
_SPELLED_TLDS = "com|org|net|edu|gov|info|io|me|co|uk|us|ca|au|de|fr|nl|ie|es|it|nz|in"
_EMAIL_SPELLED = re.compile(
    r"(?i)(?<![\w])[a-z0-9][a-z0-9._-]{0,63}(?:\s+dot\s+[a-z0-9_-]{1,63})*"
    r"\s*[\[(]?\s*\bat\b\s*[\])]?\s*[a-z0-9-]{2,63}"
    rf"(?:\s*[\[(]?\s*\bdot\b\s*[\])]?\s*[a-z0-9-]{{2,63}})*\s*[\[(]?\s*\bdot\b\s*[\])]?\s*(?:{_SPELLED_TLDS})(?![\w])"
)

# --- phone numbers ----------------------------------------------------------------------
# Candidates: digit groups joined by single spaces, dashes, dots or parentheses, optionally
# starting with "+" or "00". Whether a candidate is a phone number is decided by
# ``_is_phone`` from its digit count and shape.
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+.,/:-])(?:\+|00)?\(?\d[\d\s().-]{5,22}\d(?![\w/:]|[.,]\d)"
)
_DATE_LIKE = re.compile(
    r"^(?:\d{4}[-.]\d{1,2}[-.]\d{1,2}|\d{1,2}[-.]\d{1,2}[-.]\d{2,4})$"
)
_YEAR_RANGE = re.compile(r"^(?:19|20)\d\d\s?[-.]\s?(?:19|20)?\d\d$")


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    compact = re.sub(r"\s", "", candidate)
    if _DATE_LIKE.match(compact) or _YEAR_RANGE.match(candidate.strip()):
        return False
    groups = [g for g in re.split(r"[\s().-]+", candidate) if g]
    if "." in candidate and "+" not in candidate and len(groups) == 2:
        return False  # "3.14159", "120.50"
    if candidate.startswith("+") or candidate.startswith("00"):
        return 8 <= len(digits) <= 15
    if len(groups) == 1:
        # One unbroken run: a national number like 07700900123 or 5551234567.
        return 10 <= len(digits) <= 12 and digits[0] in "0123456789"
    if not 9 <= len(digits) <= 12:
        return False
    # Several groups: phones group as 1-6 digits; "1 2 3 4 5 6 7 8 9" is a list, not a phone.
    return all(1 <= len(g) <= 6 for g in groups) and sum(len(g) >= 3 for g in groups) >= 2


# --- street addresses -------------------------------------------------------------------
_SUFFIXES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|"
    "Close|Crescent|Cres|Terrace|Gardens|Gdns|Square|Sq|Parkway|Pkwy|Highway|Hwy|Row|Mews|"
    "Grove|Hill|Walk|Circle|Cir|Trail|Terr"
)
# "221B Baker Street", "1600 Pennsylvania Ave NW", "12 Elm st": house number, one to three
# capitalised name words, a street suffix. Lower-case name words do not match, so
# "walked 5 blocks down the road" stays.
_STREET = re.compile(
    r"(?<![\w-])\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'’.-]*\s+){1,3}"
    rf"(?:(?:{_SUFFIXES})|(?:{_SUFFIXES.lower()}))\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
)
# "Hauptstraße 5", "Kirchweg 12a": German-style name+suffix then number.
_STREET_DE = re.compile(
    r"(?<!\w)[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm)"
    r"\s+\d{1,4}[a-z]?(?!\w)"
)
# UK postcodes ("SW1A 1AA", "M1 1AE"): upper case only, so words never match.
_UK_POSTCODE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?![A-Za-z0-9])")

# --- ID numbers -------------------------------------------------------------------------
_US_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_UK_NINO = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r"\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D](?![A-Za-z0-9])"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_NHS = re.compile(r"(?<![\d-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d-])")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _nhs_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if len(digits) != 10:
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _card_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and _luhn(digits)


Finder = Callable[[str], Iterable[tuple[int, int]]]


def _matches(pattern: re.Pattern[str], check: Callable[[str], bool] | None = None, needs: str = "") -> Finder:
    """A finder for ``pattern``; ``check`` vets each match; ``needs`` is a substring (case
    ignored) without which the pattern cannot match, to skip it cheaply."""

    def find(text: str) -> Iterable[tuple[int, int]]:
        if needs and needs not in text.lower():
            return
        for m in pattern.finditer(text):
            if check is None or check(m.group()):
                yield m.start(), m.end()

    return find


def _phones(text: str) -> Iterable[tuple[int, int]]:
    for m in _PHONE_CANDIDATE.finditer(text):
        candidate = m.group()
        # Trim a trailing ")" or "." that belongs to the sentence, not the number.
        start, end = m.start(), m.end()
        while candidate and candidate[-1] in ").-":
            candidate = candidate[:-1]
            end -= 1
        if candidate.startswith("(") and ")" not in candidate:
            candidate = candidate[1:]
            start += 1
        if _is_phone(candidate):
            yield start, end


# Order matters: ID numbers before phones (a card number is not a phone), e-mail first.
_FINDERS: dict[str, list[Finder]] = {
    "email": [_matches(_EMAIL, needs="@"), _matches(_EMAIL_SPELLED, needs="dot")],
    "id": [
        _matches(_US_SSN),
        _matches(_UK_NINO),
        _matches(_IBAN, _iban_ok),
        _matches(_CARD, _card_ok),
        _matches(_NHS, _nhs_ok),
    ],
    "address": [_matches(_STREET), _matches(_STREET_DE), _matches(_UK_POSTCODE)],
    "phone": [_phones],
}
_ORDER = ("email", "id", "address", "phone")


_DIGIT = re.compile(r"\d")
_DROP_ASCII_DIGITS = str.maketrans("", "", "0123456789")


def _count_digits(text: str) -> int:
    if text.isascii():  # str.translate is ~10x faster than a regex scan here
        return len(text) - len(text.translate(_DROP_ASCII_DIGITS))
    return len(_DIGIT.findall(text))


def _worth_looking(kind: str, text: str, digits: int, lowered: str) -> bool:
    """Cheap checks that rule a kind out before its regular expressions run (most chat
    messages have no "@" and few digits, and the patterns cost tens of microseconds)."""
    if kind == "email":
        return "@" in text or ("dot" in lowered and "at" in lowered)
    if kind == "phone":
        return digits >= 8
    if kind == "id":
        return digits >= 6
    return digits >= 1  # addresses: a house number or a postcode digit


def find_pii(text: str, kinds: Iterable[str] = KINDS) -> list[Span]:
    """Spans of personal data in ``text``, non-overlapping, in text order."""
    wanted = set(kinds)
    taken: list[Span] = []
    digits = _count_digits(text)
    lowered = text.lower()
    for kind in _ORDER:
        if kind not in wanted or not _worth_looking(kind, text, digits, lowered):
            continue
        for finder in _FINDERS[kind]:
            for start, end in finder(text):
                if any(start < s.end and s.start < end for s in taken):
                    continue
                taken.append(Span(start, end, LABELS[kind]))
    return sorted(taken, key=lambda s: s.start)


@dataclass(frozen=True, slots=True)
class PiiRedaction:
    """Hides personal data before broadcast. Settings: ``kinds`` (default all four),
    ``exempt_roles`` (default none: staff share contact details in DMs, not rooms)."""

    kinds: tuple[str, ...] = KINDS
    exempt_roles: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PiiRedaction:
        r = SettingsReader("pii", settings)
        kinds = tuple(r.str_list("kinds", list(KINDS)))
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"pii: unknown kind {kind!r}; expected some of {', '.join(KINDS)}")
        exempt = frozenset(r.roles("exempt_roles", []))
        r.done()
        return cls(kinds, exempt)

    def __call__(self, ctx: MessageContext) -> Verdict:
        if ctx.role.value in self.exempt_roles:
            return Allow()
        spans = find_pii(ctx.text, self.kinds)
        if not spans:
            return Allow()
        labels = sorted({s.label for s in spans})
        return Redact(tuple(spans), "personal information hidden: " + ", ".join(labels))
