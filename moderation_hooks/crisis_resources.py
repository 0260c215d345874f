"""Built-in crisis resources and notices per language and region.

Real, public services only, kept conservative (national lines that answer any time, and a
directory for everywhere else); communities configure their own under
``crisis.locales."<tag>".resources`` (or the server's ``[[communities.resources]]``).

A member's locale picks: the exact tag ("es-MX"), then its language ("es"), then the
community's default locale. ``third_party`` texts are for a member worried about someone
else: how to help, and services that also advise people supporting someone.
"""

from __future__ import annotations

from moderation_hooks.verdict import Resource

NOTICE = {
    "en": (
        "Your message is waiting for a moderator. It sounds like you might be going through a "
        "lot right now, and you don't have to face it alone. If you are in danger, please call "
        "your local emergency number now. These people are there to listen, any time:"
    ),
    "es": (
        "Tu mensaje está esperando a un moderador. Parece que estás pasando por un momento muy "
        "difícil, y no tienes que afrontarlo a solas. Si estás en peligro, llama ahora al número "
        "de emergencias de tu país. Estas personas están para escucharte, a cualquier hora:"
    ),
}

SUPPORT_NOTICE = {
    "en": (
        "Your message is posted, so people here can answer you. It sounds like you might be going "
        "through a lot right now, and you don't have to face it alone; a moderator has been told "
        "too. If you are in danger, please call your local emergency number now. These people "
        "are there to listen, any time:"
    ),
    "es": (
        "Tu mensaje está publicado, para que la gente de aquí pueda responderte. Parece que estás "
        "pasando por un momento muy difícil, y no tienes que afrontarlo a solas; también se ha "
        "avisado a un moderador. Si estás en peligro, llama ahora al número de emergencias de tu "
        "país. Estas personas están para escucharte, a cualquier hora:"
    ),
}

THIRD_PARTY_NOTICE = {
    "en": (
        "Your message is posted. It sounds like you are worried about someone, and it is good "
        "that you said so; a moderator has been told. If they are in immediate danger, call your "
        "local emergency number now. It helps to ask them directly whether they are thinking "
        "about suicide (asking does not put the idea in their head), to listen without judging, "
        "to stay with them or keep in touch, and to help them reach one of these services. These "
        "services also support people who are worried about someone else:"
    ),
    "es": (
        "Tu mensaje está publicado. Parece que te preocupa alguien, y has hecho bien en decirlo; "
        "se ha avisado a un moderador. Si esa persona está en peligro inmediato, llama ahora al "
        "número de emergencias. Ayuda preguntarle directamente si está pensando en el suicidio "
        "(preguntarlo no le mete la idea en la cabeza), escucharla sin juzgar, quedarte con ella "
        "o mantener el contacto, y ayudarla a contactar con uno de estos servicios. Estos "
        "servicios también atienden a quien está preocupado por otra persona:"
    ),
}

_DIRECTORY_EN = Resource("Find a helpline in your country", "", "https://findahelpline.com")
_DIRECTORY_ES = Resource("Encuentra una línea de ayuda en tu país", "", "https://findahelpline.com")

_SAMARITANS = Resource("Samaritans (UK and Ireland)", "116 123", "https://www.samaritans.org")
_SHOUT = Resource("Shout (UK, text)", "text SHOUT to 85258", "https://giveusashout.org")
_988 = Resource("988 Suicide & Crisis Lifeline (US)", "call or text 988", "https://988lifeline.org")
_CTL = Resource("Crisis Text Line (US)", "text HOME to 741741", "https://www.crisistextline.org")
_024 = Resource("Línea 024 de atención a la conducta suicida (España)", "024", "https://www.sanidad.gob.es/linea024/")
_ESPERANZA = Resource("Teléfono de la Esperanza (España)", "717 003 717", "https://telefonodelaesperanza.org")
_VIDA = Resource("Línea de la Vida (México)", "800 911 2000", "https://www.gob.mx/salud/conadic")


def _tag(resources: tuple[Resource, ...], locale: str) -> tuple[Resource, ...]:
    return tuple(Resource(r.name, r.contact, r.url, locale) for r in resources)


RESOURCES: dict[str, tuple[Resource, ...]] = {
    "en": _tag(
        (
            Resource("Emergency services", "your local emergency number (999, 911, 112)"),
            _SAMARITANS,
            _988,
            _DIRECTORY_EN,
        ),
        "en",
    ),
    "en-GB": _tag(
        (Resource("Emergency services", "999 or 112"), _SAMARITANS, _SHOUT, _DIRECTORY_EN), "en-GB"
    ),
    "en-US": _tag((Resource("Emergency services", "911"), _988, _CTL, _DIRECTORY_EN), "en-US"),
    "es": _tag(
        (
            Resource("Servicios de emergencia", "el número de emergencias de tu país (112, 911)"),
            _024,
            _VIDA,
            _988_ES := Resource("988 Lifeline en español (EE. UU.)", "988 (marca 2 para español)", "https://988lifeline.org/es/"),
            _DIRECTORY_ES,
        ),
        "es",
    ),
    "es-ES": _tag((Resource("Emergencias", "112"), _024, _ESPERANZA, _DIRECTORY_ES), "es-ES"),
    "es-MX": _tag((Resource("Emergencias", "911"), _VIDA, _DIRECTORY_ES), "es-MX"),
}

# For a member worried about someone else: the same services (each also advises people who
# support someone), led by the emergency number.
THIRD_PARTY_RESOURCES: dict[str, tuple[Resource, ...]] = dict(RESOURCES)


def language(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


def canonical_tag(tag: str) -> str:
    """``es_mx`` / ``ES-mx`` -> ``es-MX``; a bare language stays lower case."""
    parts = tag.replace("_", "-").split("-")
    if len(parts) == 1:
        return parts[0].lower()
    return parts[0].lower() + "-" + parts[1].upper()


def pick(table: dict[str, str], tag: str, default: str = "en") -> str:
    """A text for ``tag``: exact tag, then language, then ``default``'s language, then English."""
    tag = canonical_tag(tag)
    return table.get(tag) or table.get(language(tag)) or table.get(language(default)) or table["en"]


def all_builtin_numbers() -> set[str]:
    """Every number in a built-in resource (digits only), for the PII allow-list."""
    from moderation_hooks.pii import resource_numbers

    out: set[str] = set()
    for table in (RESOURCES, THIRD_PARTY_RESOURCES):
        for resources in table.values():
            out |= resource_numbers(resources)
    return out
