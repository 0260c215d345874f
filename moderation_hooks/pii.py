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
_SPELLED_TLDS = "com|org|net|edu|gov|info|io|me|co|uk|us|ca|au|de|fr|nl|ie|es|it|nz|in|mx|ar|cl|pe"
# " at " / " arroba ", " dot " / " punto " (English and Spanish spellings).
_AT = r"(?:at|arroba)"
_DOT = r"(?:dot|punto)"
_EMAIL_SPELLED = re.compile(
    rf"(?i)(?<![\w])[a-z0-9][a-z0-9._-]{{0,63}}(?:\s+{_DOT}\s+[a-z0-9_-]{{1,63}})*"
    rf"\s*[\[(]?\s*\b{_AT}\b\s*[\])]?\s*[a-z0-9-]{{2,63}}"
    rf"(?:\s*[\[(]?\s*\b{_DOT}\b\s*[\])]?\s*[a-z0-9-]{{2,63}})*\s*[\[(]?\s*\b{_DOT}\b\s*[\])]?\s*(?:{_SPELLED_TLDS})(?![\w])"
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


# Words that say a number is a phone number (within a few words before it).
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|ph|tel|tlf|telf|call|calls|calling|ring|text|txt|sms|whatsapp|whats app|signal|mobile|mob|cell|cellphone|"
    r"number|no|num|contact|reach me|landline|fax|llama|llamame|llámame|llamanos|llámanos|llamar|llamada|telefono|teléfono|movil|móvil|celular|cel|"
    r"numero|número|whatsapp|escribeme|escríbeme|mandame|mándame|anruf|handy|telefon|nummer|appelle|portable|numéro)\b"
)
_NOT_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:order|ref|reference|invoice|tracking|ticket|case|id|pedido|factura|referencia|seguimiento|timestamp|epoch|ts|isbn|serial|code|codigo|código|lot|batch|voucher|coupon|cupon|cupón|pin)\b(?:\s+(?:is|was|number|no|es|de|n[oº]|numero|número))*[\s#:.-]*$"
)
# Regions whose national formats are recognised whatever the community's default region.
WORLD_REGIONS = ("GB", "US", "ES", "MX", "DE", "FR", "IN", "AU", "IE", "CA", "AR", "CO", "IT", "NL")


def _valid_somewhere(candidate: str, default_region: str) -> bool:
    try:
        import phonenumbers
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    regions = (default_region, *[r for r in WORLD_REGIONS if r != default_region])
    for region in regions if not candidate.startswith("+") else (None,):
        try:
            num = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return True
    return False


def _valid_in(candidate: str, region: str) -> bool:
    try:
        import phonenumbers

        return phonenumbers.is_valid_number(phonenumbers.parse(candidate, region))
    except Exception:
        return False


def _is_phone(candidate: str, default_region: str = "GB", context: str = "") -> bool:
    digits = re.sub(r"\D", "", candidate)
    compact = re.sub(r"\s", "", candidate)
    if _DATE_LIKE.match(compact) or _YEAR_RANGE.match(candidate.strip()):
        return False
    groups = [g for g in re.split(r"[\s().-]+", candidate) if g]
    if "." in candidate and "+" not in candidate and len(groups) == 2:
        return False  # "3.14159", "120.50"
    if _NOT_PHONE_CONTEXT.search(context):
        return False  # "order 12345678901", "ref: 555 123 4567"
    if candidate.startswith("+") or candidate.startswith("00"):
        return 8 <= len(digits) <= 15
    said = bool(_PHONE_CONTEXT.search(context))
    if len(groups) == 1:
        # One unbroken run (a timestamp, an order number, a code) is a phone only when the
        # words before it say so: "call me on 07700900123", "mi móvil 612345678".
        return said and 8 <= len(digits) <= 13 and (10 <= len(digits) <= 12 or _valid_somewhere(candidate, default_region))
    if not 8 <= len(digits) <= 13:
        return False
    # Several groups: phones group as 1-6 digits; "1 2 3 4 5 6 7 8 9" is a list, not a phone.
    if not all(1 <= len(g) <= 8 for g in groups):
        return False
    if all(len(g) <= 6 for g in groups) and 9 <= len(digits) <= 12 and sum(len(g) >= 3 for g in groups) >= 2:
        return True
    # National formats of other countries ("06 12 34 56 78", "030 1234567", "612 34 56 78").
    # Said to be a phone, or a national trunk "0" in three or more groups: any region's
    # format; otherwise only the community's own region.
    if said or (candidate.lstrip("(").startswith("0") and len(groups) >= 2):
        return _valid_somewhere(candidate, default_region)
    return len(groups) >= 3 and _valid_in(candidate, default_region)


def resource_numbers(resources: Iterable[Any]) -> set[str]:
    """The numbers (digits only) in resources' ``contact`` texts: "116 123" -> "116123"."""
    out: set[str] = set()
    for r in resources:
        contact = getattr(r, "contact", "") or (r.get("contact", "") if isinstance(r, Mapping) else "")
        for m in re.finditer(r"\+?\d[\d\s().-]*\d|\d+", contact):
            digits = re.sub(r"\D", "", m.group())
            if digits:
                out.add(digits)
    return out


def _allowed(digits: str, allowed: frozenset[str]) -> bool:
    """A helpline number, written nationally or with a country code ("+34 717 003 717")."""
    if digits in allowed:
        return True
    return any(len(a) >= 5 and (digits.endswith(a) or digits.lstrip("0").endswith(a.lstrip("0"))) for a in allowed)


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
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_NHS = re.compile(r"(?<![\d+-])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d-])")


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
    if digits == text.strip():
        return False  # an unbroken run: an order number or a timestamp passes the check 1 in 11

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


def _phones(text: str, default_region: str = "GB", allowed: frozenset[str] = frozenset()) -> Iterable[tuple[int, int]]:
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
        if _allowed(re.sub(r"\D", "", candidate), allowed):
            continue  # a helpline: never hidden
        if _is_phone(candidate, default_region, text[max(0, start - 40) : start]):
            yield start, end


# Order matters: ID numbers before phones (a card number is not a phone), e-mail first.
_FINDERS: dict[str, list[Finder]] = {
    "email": [_matches(_EMAIL, needs="@"), _matches(_EMAIL_SPELLED, needs="dot"), _matches(_EMAIL_SPELLED, needs="punto")],
    "id": [
        _matches(_US_SSN),
        _matches(_UK_NINO),
        _matches(_IBAN, _iban_ok),
        _matches(_CARD, _card_ok),
        _matches(_NHS, _nhs_ok),
    ],
    "address": [_matches(_STREET), _matches(_STREET_DE), _matches(_UK_POSTCODE)],
    "phone": [],  # _phones, called with the region and allow-list
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
        return "@" in text or (("dot" in lowered or "punto" in lowered) and ("at" in lowered or "arroba" in lowered))
    if kind == "phone":
        return digits >= 8
    if kind == "id":
        return digits >= 6
    return digits >= 1  # addresses: a house number or a postcode digit


def find_pii(
    text: str, kinds: Iterable[str] = KINDS, default_region: str = "GB", allowed: Iterable[str] = ()
) -> list[Span]:
    """Spans of personal data in ``text``, non-overlapping, in text order. ``default_region``:
    how national phone numbers are read first (others are tried too); ``allowed``: numbers
    (digits) never hidden, on top of every built-in helpline."""
    allow = frozenset(allowed) | builtin_allowed()
    wanted = set(kinds)
    taken: list[Span] = []
    digits = _count_digits(text)
    lowered = text.lower()
    for kind in _ORDER:
        if kind not in wanted or not _worth_looking(kind, text, digits, lowered):
            continue
        finders = _FINDERS[kind] if kind != "phone" else [lambda t: _phones(t, default_region, allow)]
        for finder in finders:
            for start, end in finder(text):
                if any(start < s.end and s.start < end for s in taken):
                    continue
                taken.append(Span(start, end, LABELS[kind]))
    return sorted(taken, key=lambda s: s.start)


_BUILTIN: frozenset[str] | None = None


def builtin_allowed() -> frozenset[str]:
    """Every number of the crisis hook's built-in resources (helplines are never hidden)."""
    global _BUILTIN
    if _BUILTIN is None:
        from moderation_hooks.crisis_resources import all_builtin_numbers

        _BUILTIN = frozenset(all_builtin_numbers())
    return _BUILTIN


@dataclass(frozen=True, slots=True)
class PiiRedaction:
    """Hides personal data before broadcast. Settings: ``kinds`` (default all four),
    ``exempt_roles`` (default none: staff share contact details in DMs, not rooms),
    ``default_region`` (how national phone numbers are read first, e.g. "GB", "ES"; other
    countries' formats are recognised too) and ``allow_numbers`` (numbers never hidden, e.g.
    the community's helplines; every built-in crisis resource number is always allowed)."""

    kinds: tuple[str, ...] = KINDS
    exempt_roles: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    default_region: str = "GB"
    allow_numbers: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PiiRedaction:
        r = SettingsReader("pii", settings)
        kinds = tuple(r.str_list("kinds", list(KINDS)))
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"pii: unknown kind {kind!r}; expected some of {', '.join(KINDS)}")
        exempt = frozenset(r.roles("exempt_roles", []))
        region = r.string("default_region", "GB").upper()
        allow = frozenset(d for d in (re.sub(r"\D", "", str(n)) for n in r.str_list("allow_numbers", [])) if d)
        r.done()
        try:
            import phonenumbers

            if region not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"pii.default_region: unknown region {region!r} (use a code like GB, US, ES, MX)")
        except ImportError:  # pragma: no cover
            pass
        return cls(kinds, exempt, frozenset(), region, allow)

    def __call__(self, ctx: MessageContext) -> Verdict:
        if ctx.role.value in self.exempt_roles:
            return Allow()
        spans = find_pii(ctx.text, self.kinds, self.default_region, self.allow_numbers)
        if not spans:
            return Allow()
        labels = sorted({s.label for s in spans})
        return Redact(tuple(spans), "personal information hidden: " + ", ".join(labels))
