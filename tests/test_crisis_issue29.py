"""Issue 29, the detector side: third-party subject, the look tier, resources per locale,
PII that knows other countries' numbers and never hides helplines, the learned layer loading
from local files only, and the whole hook's regression floor on the project's held-out file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from moderation_hooks import Allow, Hold, Look, MessageContext, Support
from moderation_hooks.crisis import CrisisLanguage
from moderation_hooks.crisis_detect import DEFAULT_DETECTOR
from moderation_hooks.crisis_eval import HELDOUT, load, tier_score
from moderation_hooks.crisis_judge import judge
from moderation_hooks.pii import PiiRedaction, find_pii
from rooms.model import Role, Room


def ctx(text: str, locale: str = "en") -> MessageContext:
    return MessageContext(text=text, user="u", name="U", role=Role.MEMBER, room=Room("c", "r"), now=0.0, locale=locale)


HOOK = CrisisLanguage.from_settings({})
RULES_ONLY = CrisisLanguage.from_settings({"learned": False})


# ------------------------------------------------------------------------------ new rules

@pytest.mark.parametrize(
    "text",
    [
        "i have been saving up my sertraline for weeks",
        "bought a rope today, doing it after work",
        "i am going to take 60 paracetamol tonight",
        "giving away my guitar and my books to my sister, wont need them",
        "put my affairs in order and wrote my will this week",
        "he estado guardando mis pastillas para dormir",
        "me voy a tomar toda la caja esta noche",
        "ya tengo decidido el dia",
        "estoy regalando mis cosas, ya no las voy a necesitar",
        "me volvi a cortar anoche",
    ],
)
def test_new_rules_find_high_risk(text):
    assert DEFAULT_DETECTOR.assess(text).level == "high", text


@pytest.mark.parametrize(
    "text",
    [
        "I take 40 mg of citalopram every morning",
        "the pharmacy gave me 30 tablets of ibuprofen for my knee",
        "bought a rope for the climbing wall",
        "giving away free tickets to the gig",
        "tomo 20 mg de paroxetina cada dia",
    ],
)
def test_new_rules_leave_ordinary_talk(text):
    assert not DEFAULT_DETECTOR.assess(text).flagged, text


# ------------------------------------------------------------------------------ third party

@pytest.mark.parametrize(
    "text, locale, word",
    [
        ("my friend said she wants to kill herself", "en", "worried about someone"),
        ("my brother keeps talking about suicide and gave his stuff away", "en-GB", "worried about someone"),
        ("mi hermana dice que se quiere matar", "es-MX", "preocupa alguien"),
    ],
)
def test_someone_else_at_risk_gets_help_someone_else_support(text, locale, word):
    v = RULES_ONLY(ctx(text, locale))
    assert isinstance(v, Support) and v.subject == "third_party" and v.category == "crisis", v
    assert word in v.notice
    assert v.resources


def test_own_risk_stays_self_even_with_a_person_cue():
    v = RULES_ONLY(ctx("since my sister died I want to kill myself tonight"))
    assert isinstance(v, Hold) and v.subject == "self"


# ------------------------------------------------------------------------------ look tier

def test_weak_evidence_alone_is_a_quiet_look():
    v = RULES_ONLY(ctx("i have a plan"))
    assert isinstance(v, Look) and v.category == "crisis" and v.evidence


def test_look_can_be_switched_off_and_ordinary_talk_is_allowed():
    assert isinstance(CrisisLanguage.from_settings({"learned": False, "look": False})(ctx("i have a plan")), Allow)
    assert isinstance(HOOK(ctx("Hi everyone, how was your day? Mine was tiring.")), Allow)


# ------------------------------------------------------------------------------ locales

@pytest.mark.parametrize(
    "locale, contact, lang",
    [
        ("en-GB", "116 123", "en"),
        ("en-US", "call or text 988", "en"),
        ("es-ES", "024", "es"),
        ("es-MX", "800 911 2000", "es"),
        ("es-AR", "024", "es"),  # no es-AR: the language's resources
        ("fr-FR", "116 123", "en"),  # no French resources: the default locale's
    ],
)
def test_resources_by_exact_tag_then_language_then_default(locale, contact, lang):
    v = RULES_ONLY(ctx("I want to kill myself tonight", locale))
    assert isinstance(v, Hold)
    assert contact in [r.contact for r in v.resources], v.resources
    assert ("Tu mensaje" in v.notice) == (lang == "es")
    if locale in ("en-GB", "en-US", "es-ES", "es-MX"):
        assert {r.locale for r in v.resources} == {locale}


def test_configured_region_resources_override():
    hook = CrisisLanguage.from_settings(
        {"learned": False, "locales": {"es-MX": {"resources": [{"name": "Local line", "contact": "55 1234 5678"}]}}}
    )
    v = hook(ctx("quiero morirme esta noche", "es-MX"))
    assert [r.name for r in v.resources] == ["Local line"] and v.resources[0].locale == "es-MX"
    assert "55 1234 5678" not in "".join(r.contact for r in hook(ctx("quiero morirme esta noche", "es-ES")).resources)
    assert "5512345678" in hook.resource_numbers()


# ------------------------------------------------------------------------------ PII

def spans(text: str, **kw) -> list[str]:
    return [text[s.start : s.end] for s in find_pii(text, **kw)]


@pytest.mark.parametrize(
    "text, number",
    [
        ("call me on 07700 900123", "07700 900123"),
        ("my mobile is +44 7700 900123", "+44 7700 900123"),
        ("text me 555-867-5309", "555-867-5309"),
        ("mi móvil es 612 34 56 78", "612 34 56 78"),
        ("llámame al +34 612 345 678", "+34 612 345 678"),
        ("mi cel 55 1234 5678", "55 1234 5678"),
        ("ruf an: 030 1234567", "030 1234567"),
        ("appelle-moi au 06 12 34 56 78", "06 12 34 56 78"),
        ("whatsapp +91 98765 43210", "+91 98765 43210"),
        ("my number is 0412 345 678", "0412 345 678"),
        ("call me 07700900123", "07700900123"),
    ],
)
def test_world_phone_formats_are_hidden(text, number):
    assert spans(text) == [number]


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890 shipped",
        "event at 1717171717 in the log",
        "took 20mg x 30 today",
        "HbA1c 48 mmol/mol, was 53",
        "see you 2024-05-01 at 14:30",
        "code 4829 1734 55",
        "ring Samaritans on 116 123",
        "en España llama al 024 o al Teléfono de la Esperanza 717 003 717",
        "en México: Línea de la Vida 800 911 2000",
        "Teléfono de la Esperanza: +34 717 003 717",
    ],
)
def test_never_hidden(text):
    assert spans(text) == []


def test_allow_numbers_setting_and_default_region():
    hook = PiiRedaction.from_settings({"allow_numbers": ["0161 555 0199"], "default_region": "ES"})
    assert isinstance(hook(ctx("our local line: 0161 555 0199")), Allow)
    assert hook.default_region == "ES"
    with pytest.raises(ValueError):
        PiiRedaction.from_settings({"default_region": "XX"})


@pytest.mark.parametrize(
    "text",
    ["jane dot doe at gmail dot com", "escríbeme a juan punto perez arroba gmail punto com", "sam (at) outlook dot co dot uk"],
)
def test_spelled_emails(text):
    found = find_pii(text)
    assert [s.label for s in found] == ["email"]


# ------------------------------------------------------------------------------ learned layer

def test_learned_layer_loads_offline_without_network():
    """The model loads from the package's own files with the hub offline and no network."""
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n    raise OSError('network used')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "from moderation_hooks import learned\n"
        "m = learned.default_model(); s = m.scores(learned.features('i want to end it all tonight'))\n"
        "assert set(s) == {'risk', 'high', 'third_party'}, s\nprint('ok', round(s['risk'], 3))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": "/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_learned_layer_scores_risk_above_ordinary():
    risky = judge(DEFAULT_DETECTOR, "honestly i dont see the point of anything anymore, everyone would cope without me")
    calm = judge(DEFAULT_DETECTOR, "the new recipe for lentil soup turned out great, thanks for the tip")
    assert risky.scores["risk"] > calm.scores["risk"]


def test_whole_hook_floor_on_the_project_held_out_file():
    """A regression floor for the whole hook (rules + shipped learned layer); the held-out
    file is never used for fitting."""
    s = tier_score(load(HELDOUT))
    high, total_high = s.recall["high"]
    mod, total_mod = s.recall["moderate"]
    assert high / total_high >= 0.85, s.misses
    assert mod / total_mod >= 0.75, s.misses
    assert s.member_fp[0] / s.member_fp[1] <= 0.10, s.false_positives
    assert s.look_on_ordinary[0] / s.look_on_ordinary[1] <= 0.25


def test_pii_corpus_recall_and_no_helpline_hidden():
    from moderation_hooks.pii_eval import evaluate

    r = evaluate()
    assert r["recall"] >= 0.95, r["misses"]
    assert r["helplines_hidden"] == 0 and not r["wrongly_hidden"], r["wrongly_hidden"]


def test_learned_deadline_falls_back_to_rules_and_counts(monkeypatch):
    from moderation_hooks import crisis_judge

    stats = crisis_judge.LearnedStats()
    monkeypatch.setattr(crisis_judge, "LEARNED_STATS", stats)
    monkeypatch.setattr(crisis_judge, "DEADLINE_US", 0.0)
    text = "nothing feels worth it lately and i keep thinking everyone would cope without me"
    first = judge(DEFAULT_DETECTOR, text)
    assert first.scores and stats.over_deadline == 1
    second = judge(DEFAULT_DETECTOR, text)  # backing off: the rules decide alone
    assert second.scores == {} and stats.skipped == 1


def test_learned_layer_alone_never_holds():
    from moderation_hooks import learned as lmod

    model = lmod.default_model()
    texts = [
        "honestly everyone would cope fine without me around, i am just so tired of being a weight on them",
        "i cant see a way forward anymore and i dont think i want to keep going",
    ]
    seen = 0
    for text in texts:
        j = judge(DEFAULT_DETECTOR, text, model=model)
        v = HOOK(ctx(text))
        assert j.source == "learned", j  # written here, unlike any rule: the learned layer alone decides
        assert not isinstance(v, Hold), v
        if j.level != "none":
            seen += 1
            assert isinstance(v, Support) and v.resources, v
        else:
            assert j.look and isinstance(v, Look), (j, v)  # below the member-facing threshold: a quiet look
    assert seen >= 1  # at least one of them reaches the member-facing grade (so the check is not empty)
