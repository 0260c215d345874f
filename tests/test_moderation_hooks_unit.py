"""Fast unit tests of the pure moderation domain: built-in hooks, combine, config, pipeline."""

from __future__ import annotations

import asyncio
import time

import pytest

from moderation_hooks import (
    Allow,
    Hold,
    HookSpec,
    MessageContext,
    ModerationConfigError,
    Pipeline,
    Priority,
    Redact,
    Reject,
    Span,
    apply_redactions,
    combine,
    parse_config,
    parse_layer,
    resolve,
)
from moderation_hooks.crisis import CrisisLanguage, normalise
from moderation_hooks.flood import FloodControl, RecentPost, digest
from moderation_hooks.links import LinkPolicy, find_links
from moderation_hooks.loading import HookLoadError, build_specs, make_hook
from moderation_hooks.newmember import NewMemberHold
from moderation_hooks.pii import PiiRedaction, find_pii
from moderation_hooks.rules import BlocklistRules
from rooms.model import Role, Room

ROOM = Room("ms", "evening")


def ctx(text: str, role: Role = Role.MEMBER, **kw) -> MessageContext:
    return MessageContext(text=text, user="u1", name="U", role=role, room=ROOM, now=kw.pop("now", 1000.0), **kw)


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.label) for s in find_pii(text)]


# ---------------------------------------------------------------------------- PII

@pytest.mark.parametrize(
    "text, expected",
    [
        ("mail me at sam.lee@example.co.uk!", [("sam.lee@example.co.uk", "email")]),
        ("sam dot lee at gmail dot com", [("sam dot lee at gmail dot com", "email")]),
        ("sam.lee [at] gmail [dot] com", [("sam.lee [at] gmail [dot] com", "email")]),
        ("call +44 20 7946 0958 tonight", [("+44 20 7946 0958", "phone")]),
        ("call +1 (555) 123-4567.", [("+1 (555) 123-4567", "phone")]),
        ("my number is (555) 123-4567.", [("(555) 123-4567", "phone")]),
        ("ring 07700 900123", [("07700 900123", "phone")]),
        ("ring 07700900123", [("07700900123", "phone")]),
        ("0049 30 1234567", [("0049 30 1234567", "phone")]),
        ("+33 6 12 34 56 78", [("+33 6 12 34 56 78", "phone")]),
        ("555.123.4567", [("555.123.4567", "phone")]),
        ("I live at 221B Baker Street, London", [("221B Baker Street", "address")]),
        ("1600 Pennsylvania Ave NW", [("1600 Pennsylvania Ave NW", "address")]),
        ("come to 12 Elm st", [("12 Elm st", "address")]),
        ("Hauptstraße 5 in Berlin", [("Hauptstraße 5", "address")]),
        ("postcode SW1A 1AA", [("SW1A 1AA", "address")]),
        ("SSN 123-45-6789", [("123-45-6789", "id number")]),
        ("NI AB 12 34 56 C", [("AB 12 34 56 C", "id number")]),
        ("card 4111 1111 1111 1111", [("4111 1111 1111 1111", "id number")]),
        ("IBAN GB82 WEST 1234 5698 7654 32", [("GB82 WEST 1234 5698 7654 32", "id number")]),
        ("NHS 943 476 5919", [("943 476 5919", "id number")]),
    ],
)
def test_pii_found(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "on 2023-10-05 at 10:30 I took 500 mg",  # dates, times, doses
        "my BP was 120/80 and EDSS 6.5",  # readings and scores
        "between 2019-2023 it got worse",  # year ranges
        "10.30.2023 was my diagnosis day",  # dotted dates
        "it lasts 10-20 minutes",  # ranges
        "I walked 5 blocks down the road",  # lower-case words before a street-like word
        "ping @sam about it",  # mentions are not e-mail
        "email me@home later",  # no domain
        "pi is 3.14159265",  # decimals
        "I scored 1,000,000 points",  # thousands separators
        "1 2 3 4 5 6 7 8 9",  # counting
        "It was 12 345 678 steps",  # too few digits for a grouped phone number
        "version 1.2.3.4",
        "got 20000 steps today",
        "reference 123456789",  # 9 unbroken digits: not a phone
        "card 1234 5678 9012 3456",  # fails the Luhn check
        "I was at home at 5",
    ],
)
def test_pii_false_positives_avoided(text):
    assert found(text) == []


def test_pii_hook_redacts_and_lists_labels():
    hook = PiiRedaction.from_settings({})
    text = "text me on +44 7700 900123 or sam@example.org"
    verdict = hook(ctx(text))
    assert isinstance(verdict, Redact)
    assert apply_redactions(text, verdict.spans) == "text me on [phone hidden] or [email hidden]"
    assert "email" in verdict.reason and "phone" in verdict.reason
    only_email = PiiRedaction.from_settings({"kinds": ["email"]})
    assert [s.label for s in only_email(ctx(text)).spans] == ["email"]
    with pytest.raises(ValueError, match="unknown kind"):
        PiiRedaction.from_settings({"kinds": ["dna"]})
    with pytest.raises(ValueError, match="unknown setting"):
        PiiRedaction.from_settings({"kind": ["email"]})


# ---------------------------------------------------------------------------- crisis

@pytest.mark.parametrize(
    "text",
    [
        "I want to kill myself",
        "i don’t want to be here anymore",
        "Honestly I dont want to live",
        "thinking about SUICIDE again",
        "I've been cutting myself",
        "everyone would be better off without me...",
        "I want to diiiie",
        "I can't go on",
    ],
)
def test_crisis_phrases_hold_with_resources(text):
    hook = CrisisLanguage.from_settings({})
    verdict = hook(ctx(text))
    assert isinstance(verdict, Hold)
    assert verdict.priority is Priority.HIGH and verdict.category == "crisis"
    assert verdict.resources and verdict.notice


@pytest.mark.parametrize(
    "text",
    ["this diet is killing my budget", "I studied all night", "kill the process and restart", "that joke killed me", "I died laughing"],
)
def test_crisis_does_not_fire_on_near_misses(text):
    assert CrisisLanguage.from_settings({})(ctx(text)) == Allow()


def test_crisis_locales_and_configured_resources():
    hook = CrisisLanguage.from_settings(
        {
            "locales": {
                "en": {"extra_phrases": ["unalive myself"], "resources": [{"name": "Community line", "contact": "0800 000"}]},
                "de": {"resources": [{"name": "Telefonseelsorge", "contact": "0800 111 0 111"}], "notice": "Du bist nicht allein."},
            }
        }
    )
    en = hook(ctx("I want to unalive myself"))
    assert isinstance(en, Hold) and en.resources[0].name == "Community line"
    de = hook(ctx("ich will nicht mehr leben", locale="de-DE"))
    assert isinstance(de, Hold) and de.resources[0].name == "Telefonseelsorge" and de.notice == "Du bist nicht allein."
    # A German speaker writing English is still caught, and gets their own locale's resources.
    mixed = hook(ctx("I want to die", locale="de"))
    assert isinstance(mixed, Hold) and mixed.resources[0].name == "Telefonseelsorge"
    # An unknown locale falls back to the default one.
    assert hook(ctx("I want to die", locale="pt")).resources[0].name == "Community line"
    with pytest.raises(ValueError, match="needs a name"):
        CrisisLanguage.from_settings({"locales": {"en": {"resources": [{"contact": "1"}]}}})


def test_normalise():
    # Contractions are expanded to one canonical spelling (issue 17): "don't" == "dont" == "do not".
    assert normalise("Don’t   WANT to... live!!") == " do not want to live "
    assert normalise("dont want to live") == normalise("do not want to live")


# ---------------------------------------------------------------------------- combine

def test_combine_strength_and_redaction_merge():
    r1 = Redact((Span(0, 3, "phone"),), "phone")
    r2 = Redact((Span(2, 6, "email"), Span(10, 12, "id")), "email")
    merged = combine([Allow(), r1, r2])
    assert isinstance(merged, Redact)
    assert merged.spans == (Span(0, 6, "phone"), Span(10, 12, "id"))
    assert merged.reason == "phone; email"
    assert combine([r1, Hold("x")]) == Hold("x")
    assert combine([Hold("x"), Reject("no"), r1]) == Reject("no")
    assert combine([Hold("first"), Hold("crisis", Priority.HIGH)]).reason == "crisis"
    assert combine([]) == Allow()


# ---------------------------------------------------------------------------- rules, links

def test_blocklist_rules_actions_and_exempt_roles():
    hook = BlocklistRules.from_settings(
        {
            "rules": [
                {"name": "slurs", "words": ["badword", "idiot*"], "action": "reject", "reason": "be kind", "exempt_roles": ["admin"]},
                {"name": "miracle", "patterns": [r"miracle\s+cure"], "action": "hold"},
                {"name": "brand", "words": ["acme pills"], "action": "redact"},
            ]
        }
    )
    assert hook(ctx("you IDIOTS")) == Reject("be kind")
    assert hook(ctx("you idiots", role=Role.ADMIN)) == Allow()
    assert hook(ctx("badwords are fine")) == Allow()  # whole words only
    assert isinstance(hook(ctx("a Miracle   cure!")), Hold)
    red = hook(ctx("try Acme  Pills today"))
    assert isinstance(red, Redact) and apply_redactions("try Acme  Pills today", red.spans) == "try [brand hidden] today"
    with pytest.raises(ValueError, match="bad pattern"):
        BlocklistRules.from_settings({"rules": [{"patterns": ["("]}]})
    with pytest.raises(ValueError, match="give words or patterns"):
        BlocklistRules.from_settings({"rules": [{"name": "empty"}]})


def test_links_detection_and_policy():
    assert [h for _, _, h in find_links("see https://Example.com/x, or www.nhs.uk. and mssociety.org.uk/help")] == [
        "example.com",
        "www.nhs.uk",
        "mssociety.org.uk",
    ]
    assert find_links("e.g. take 3.5 mg, see sam@example.com") == []
    hold = LinkPolicy.from_settings({"mode": "hold", "allowed_domains": ["nhs.uk"]})
    assert hold(ctx("read www.nhs.uk/conditions")) == Allow()
    assert isinstance(hold(ctx("buy at http://pills.example.com")), Hold)
    assert hold(ctx("buy at http://pills.example.com", role=Role.MODERATOR)) == Allow()
    strip = LinkPolicy.from_settings({"mode": "strip"})
    v = strip(ctx("go to spam.io now"))
    assert isinstance(v, Redact) and apply_redactions("go to spam.io now", v.spans) == "go to [link hidden] now"
    assert LinkPolicy.from_settings({})(ctx("https://x.com")) == Allow()


# ---------------------------------------------------------------------------- flood, new member

def test_flood_rate_duplicates_and_mentions():
    hook = FloodControl.from_settings({"rate": 3, "per": 10, "max_copies": 2, "max_mentions": 2})
    now = 1000.0
    recent = tuple(RecentPost(now - i, digest(f"m{i}")) for i in range(3))
    v = hook(ctx("new", now=now, extra={"recent_posts": recent}))
    assert isinstance(v, Reject) and "too fast" in v.reason and "8 s" in v.reason
    old = tuple(RecentPost(now - 20 - i, digest(f"m{i}")) for i in range(3))
    assert hook(ctx("new", now=now, extra={"recent_posts": old})) == Allow()
    dup = (RecentPost(now - 30, digest("Hello  THERE")), RecentPost(now - 40, digest("hello there")))
    assert isinstance(hook(ctx("hello there", now=now, extra={"recent_posts": dup})), Reject)
    assert hook(ctx("hello there", now=now, extra={"recent_posts": dup[:1]})) == Allow()
    assert isinstance(hook(ctx("@a @b @c hi")), Reject)
    assert hook(ctx("@a @b @c hi", role=Role.MODERATOR)) == Allow()
    assert hook(ctx("mail a@b.com @x")) == Allow()
    assert hook.needs == {"recent_posts"}


def test_new_member_hold():
    hook = NewMemberHold.from_settings({"first_messages": 2})
    assert isinstance(hook(ctx("hi", messages_in_community=0)), Hold)
    assert isinstance(hook(ctx("hi", messages_in_community=1)), Hold)
    assert hook(ctx("hi", messages_in_community=2)) == Allow()
    assert hook(ctx("hi", role=Role.HOST)) == Allow()
    assert NewMemberHold.from_settings({})(ctx("hi")) == Allow()


# ---------------------------------------------------------------------------- config and loading

def test_config_layers_and_errors():
    cfg = parse_config(
        {
            "hold_expiry": 600,
            "hooks": {
                "pii": {"kinds": ["email"]},
                "kw": {"use": "tests.moderation_test_hooks:KeywordHold", "words": ["spam"], "timeout": 0.5},
            },
            "communities": {"ms": {"pipeline": ["pii", "kw"], "report_threshold": 2}},
            "rooms": {"ms:evening": {"hooks": {"pii": {"kinds": ["phone"]}}, "hold_expiry": 30}},
        }
    )
    assert cfg.pipeline[0] == "crisis"
    api_layer = parse_layer({"hooks": {"kw": {"words": ["ads"]}}}, "api", cfg.definitions)
    room = resolve(cfg, [cfg.communities["ms"], cfg.rooms["ms:evening"], api_layer])
    assert [h.name for h in room.hooks] == ["pii", "kw"]
    assert room.hooks[0].settings == {"kinds": ["phone"]}
    assert room.hooks[1].settings == {"words": ["ads"]} and room.hooks[1].timeout == 0.5
    assert (room.policy.hold_expiry, room.policy.report_threshold) == (30, 2)
    specs = build_specs(room.hooks)
    assert specs[1].in_thread is False  # async class hook
    with pytest.raises(ModerationConfigError, match="'use' may only be set"):
        parse_layer({"hooks": {"kw": {"use": "os:system"}}}, "api", cfg.definitions)
    with pytest.raises(ModerationConfigError, match="no hook named 'nope'"):
        parse_layer({"pipeline": ["nope"]}, "api", cfg.definitions)
    with pytest.raises(ModerationConfigError, match="hold_expiry must be between"):
        parse_config({"hold_expiry": 0})
    with pytest.raises(ModerationConfigError, match="unknown key"):
        parse_config({"holdexpiry": 5})
    with pytest.raises(ModerationConfigError, match="not a built-in hook"):
        parse_config({"hooks": {"mine": {"x": 1}}})


def test_loading_third_party_hooks():
    assert callable(make_hook("tests.moderation_test_hooks:raising_hook", {}))
    assert callable(make_hook("tests.moderation_test_hooks.sleeping_hook", {}))
    with pytest.raises(HookLoadError, match="takes no settings"):
        make_hook("tests.moderation_test_hooks:raising_hook", {"x": 1})
    with pytest.raises(HookLoadError, match="cannot import"):
        make_hook("no_such_module_xyz:hook", {})
    with pytest.raises(HookLoadError, match="not a built-in"):
        make_hook("no-such-entry-point", {})
    with pytest.raises(HookLoadError, match="bad settings"):
        make_hook("tests.moderation_test_hooks:KeywordHold", {"colour": "red"})


# ---------------------------------------------------------------------------- pipeline

async def test_pipeline_failures_hold_and_are_counted():
    from tests import moderation_test_hooks as th

    counts: dict[str, int] = {}
    pipeline = Pipeline(
        [
            HookSpec("raises", th.raising_hook),
            HookSpec("sleeps", th.sleeping_hook, timeout=0.2),
            HookSpec("blocks", th.blocking_hook, timeout=0.2, in_thread=True),
            HookSpec("wrong", th.wrong_type_hook),
            HookSpec("lenient", th.raising_hook, on_failure="allow"),
        ],
        counts,
    )
    for text, name in [("explode", "raises"), ("sleepy", "sleeps"), ("blocking", "blocks"), ("wrongtype", "wrong")]:
        start = time.monotonic()
        review = await pipeline.review(ctx(text))
        assert isinstance(review.verdict, Hold) and review.verdict.category == "hook_failure"
        assert name in review.failures
        assert time.monotonic() - start < 2
    assert counts == {"raises": 1, "sleeps": 1, "blocks": 1, "wrong": 1, "lenient": 1}
    assert (await pipeline.review(ctx("fine"))).verdict == Allow()
    strict = Pipeline([HookSpec("raises", th.raising_hook, on_failure="reject")])
    assert isinstance((await strict.review(ctx("explode"))).verdict, Reject)
    await asyncio.sleep(0)


async def test_default_pipeline_crisis_first_sees_everything():
    cfg = parse_config({})
    specs = build_specs(resolve(cfg, []).hooks)
    pipeline = Pipeline(specs)
    assert pipeline.needs == {"recent_posts"}  # the new-member hold is off by default
    assert NewMemberHold.from_settings({"first_messages": 3}).needs == {"member_stats"}
    assert [s.name for s in pipeline.safety_pipeline().hooks] == ["crisis"]
    review = await pipeline.review(ctx("my number is +44 7700 900123 and I want to end my life"))
    assert isinstance(review.verdict, Hold) and review.verdict.category == "crisis"
    assert any(isinstance(v, Redact) for _, v in review.verdicts)
    review = await pipeline.review(ctx("call me: +44 7700 900123"))
    assert isinstance(review.verdict, Redact)


async def test_timed_out_thread_hooks_are_counted_and_bounded():
    import threading

    from moderation_hooks.pipeline import HookThreads

    release = threading.Event()

    def stuck(c: MessageContext) -> Allow:
        release.wait(5)
        return Allow()

    threads = HookThreads(workers=1)
    with pytest.raises(TimeoutError):
        await threads.run(stuck, ctx("x"), 0.05)
    assert threads.stuck == 1
    # Its only worker is still busy: the next thread hook fails at once instead of queueing.
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="stuck"):
        await threads.run(stuck, ctx("y"), 1.0)
    assert time.monotonic() - start < 0.5
    release.set()
    for _ in range(100):
        if threads.stuck == 0:
            break
        await asyncio.sleep(0.02)
    assert threads.stuck == 0
    assert await threads.run(lambda c: Allow(), ctx("z"), 1.0) == Allow()
