"""The verdict contract of issue 29: the Look tier, strength order, span merging, the
``subject`` of Hold/Support and the ``locale`` of a Resource."""

from __future__ import annotations

from moderation_hooks import Allow, Hold, Look, Redact, Reject, Resource, Span, Support, combine
from moderation_hooks.verdict import VERDICT_TYPES, Priority, strength


def test_strength_order() -> None:
    order = [Allow(), Redact((), "r"), Look("l"), Support("s"), Hold("h"), Reject("x")]
    assert [strength(v) for v in order] == sorted(strength(v) for v in order)
    assert len({strength(v) for v in order}) == 6
    assert Look in VERDICT_TYPES


def test_look_defaults() -> None:
    look = Look("weak crisis evidence")
    assert look.category == "crisis"
    assert look.evidence == () and look.spans == ()


def test_look_beats_redact_and_merges_spans() -> None:
    a = Redact((Span(0, 3, "phone"),), "phone")
    b = Redact((Span(2, 6, "phone"), Span(10, 12, "email")), "email")
    look = Look("uncertain", evidence=("learned 0.62",))
    out = combine([a, look, b])
    assert isinstance(out, Look)
    assert out.reason == "uncertain" and out.evidence == ("learned 0.62",)
    assert out.spans == (Span(0, 6, "phone"), Span(10, 12, "email"))


def test_support_beats_look_and_keeps_spans() -> None:
    out = combine([Look("l", spans=(Span(1, 2, "x"),)), Support("s"), Redact((Span(5, 7, "e"),), "e")])
    assert isinstance(out, Support)
    assert out.spans == (Span(1, 2, "x"), Span(5, 7, "e"))


def test_hold_beats_look() -> None:
    out = combine([Look("l"), Hold("h", Priority.HIGH, category="crisis")])
    assert isinstance(out, Hold)


def test_look_alone_and_first_look_wins() -> None:
    out = combine([Allow(), Look("first"), Look("second")])
    assert isinstance(out, Look) and out.reason == "first"


def test_subject_defaults_to_self() -> None:
    assert Hold("h").subject == "self"
    assert Support("s").subject == "self"
    third = Support("s", subject="third_party")
    assert combine([Allow(), third]).subject == "third_party"


def test_resource_locale() -> None:
    r = Resource("Samaritans", "116 123", locale="en-GB")
    assert r.locale == "en-GB"
    assert Resource("x").locale == ""
    assert r.to_dict() == {"name": "Samaritans", "contact": "116 123"}
