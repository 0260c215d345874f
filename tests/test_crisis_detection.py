"""Crisis detection graded by risk (issue 17): the corpus thresholds, the issue's examples,
graded verdicts and the moderate-risk policy, the Support verdict in combine and the
pipeline, community phrases, and a classifier hook running in a process pool (through the
pipeline and through a real server over a real WebSocket)."""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter

import pytest

from moderation_hooks import (
    Allow,
    Hold,
    HookSpec,
    MessageContext,
    Pipeline,
    Priority,
    Redact,
    Reject,
    Resource,
    Span,
    Support,
    combine,
    parse_config,
    resolve,
)
from moderation_hooks.crisis import DEFAULT_SUPPORT_NOTICE, CrisisLanguage
from moderation_hooks.crisis_detect import DEFAULT_DETECTOR, detector_for
from moderation_hooks.crisis_eval import HELDOUT, TUNE, load, main, score
from moderation_hooks.crisis_lexicon import RULES
from moderation_hooks.loading import HookLoadError, build_specs
from moderation_hooks.pii import PiiRedaction
from moderation_hooks.process_pool import ProcessPoolClassifier, shutdown_pools
from rooms.model import Role, Room
from tests.harness import ServerProcess, unique
from tests.moderation_support import joined, next_event, no_event, send

ROOM = Room("ms", "evening")
CATEGORIES = {"wish_dead", "suicidal_thoughts", "method", "intent_plan", "preparatory", "self_harm", "hopelessness"}


def ctx(text: str, **kw) -> MessageContext:
    return MessageContext(text=text, user="u1", name="U", role=Role.MEMBER, room=ROOM, now=1000.0, **kw)


def level(text: str) -> str:
    return DEFAULT_DETECTOR.assess(text).level


# ---------------------------------------------------------------------------- the corpus

def test_corpus_is_data_of_the_promised_shape():
    tune, held = load(TUNE), load(HELDOUT)
    assert len(tune) + len(held) >= 300
    assert 0.15 <= len(held) / (len(tune) + len(held)) <= 0.3
    for examples in (tune, held):
        positives = {e.category for e in examples if e.label != "none"}
        assert positives == CATEGORIES
        assert {"hyperbole", "topic", "accident", "medication"} <= {e.category for e in examples if e.label == "none"}
        assert {e.locale for e in examples} == set(RULES)  # every built-in locale
        assert {e.label for e in examples} == {"none", "moderate", "high"}
    # The held-out messages are not copies of tuning ones.
    assert not {e.text.lower() for e in tune} & {e.text.lower() for e in held}
    with TUNE.open(encoding="utf-8") as f:
        assert all(set(json.loads(line)) == {"text", "label", "category", "locale", "note"} for line in f)


def test_thresholds_on_the_tuning_corpus():
    s = score(load(TUNE))
    assert s.graded_high >= 0.90, s.misses
    assert s.recall_moderate >= 0.80, s.misses
    assert s.false_positive_rate <= 0.05, s.false_positives
    assert all(hit / total >= 0.8 for hit, total in s.per_category.values()), s.per_category


def test_looser_floor_on_the_held_out_corpus():
    s = score(load(HELDOUT))
    assert s.recall_high >= 0.85, s.misses
    assert s.recall_moderate >= 0.75, s.misses
    assert s.false_positive_rate <= 0.10, s.false_positives


def test_eval_command_prints_recall_per_category_fp_and_cpu(capsys):
    main(["--file", str(HELDOUT), "--runs", "50"])
    out = capsys.readouterr().out
    for needle in ("recall, high risk", "recall, moderate risk", "false positives", "self_harm", "hopelessness", "us"):
        assert needle in out
    assert "crisis_heldout.jsonl" in out and "crisis_tune.jsonl" not in out


# ---------------------------------------------------------------------------- the issue's examples

@pytest.mark.parametrize(
    "text, expected",
    [
        ("everyone would be better off if I wasn't around", "moderate"),
        ("I've been saving up my pills, I think tonight is the night", "high"),
        ("I wrote letters to my kids today, just in case", "high"),
        ("i want to kms", "moderate"),
        ("thinking about ending things", "moderate"),
        ("I've started cutting again", "high"),
        ("Ive been self-harming for weeks", "high"),
        ("I have a plan and I'm going to do it this weekend", "high"),
        ("i'm done. goodbye everyone", "high"),
        ("the pain is too much, I want to sleep and never wake up", "moderate"),
        ("I don't want to be alive anymore", "moderate"),
        # Still caught, as before.
        ("I want to die", "moderate"),
        ("I'm thinking about suicide", "moderate"),
    ],
)
def test_issue_misses_are_now_caught_and_graded(text, expected):
    assert level(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Suicide prevention week starts Monday, there's a webinar on Tuesday",
        "I cut myself on the pot, just a scratch",
        "this heat is killing me",
        "that joke killed me",
        "my dose is 20 mg",
        "new research on suicide rates in MS, worth reading",
    ],
)
def test_issue_false_positives_now_pass(text):
    assert level(text) == "none"
    assert CrisisLanguage.from_settings({})(ctx(text)) == Allow()


@pytest.mark.parametrize(
    "text",
    [
        "I've harmed myself again", "i keep harming myself", "been selfharming", "I self-harmed last night",  # word forms
        "i dont want to live anymore", "I don’t want to live anymore", "i do not want to live anymore",  # contractions
        "i want to unalive myself", "sewerslide is on my mind, thinking about sewerslide", "kms", "wanna end things",  # slang
        "i feel so sucidal", "i want to diiie", "I WANT TO DIEEEE",  # spelling, emphasis
        "the rope is in the shed for tonight",  # a means word with a time word
    ],
)
def test_language_as_members_write_it(text):
    assert DEFAULT_DETECTOR.assess(text).flagged, text


def test_means_word_needs_a_time_word_or_a_self_directed_frame():
    assert level("the rope is in the shed for tonight") == "high"
    assert level("the rope is in the shed") == "none"
    assert level("i keep thinking about the bridge tonight") == "high"
    assert level("the bridge is closed tonight for roadworks") == "none"


def test_accident_past_and_medication_talk_are_not_crises():
    assert level("cut myself shaving this morning") == "none"
    assert level("I cut myself on purpose") == "high"
    assert level("i used to self harm as a teen, 10 years free now") == "none"
    assert level("i relapsed on sh again last night") == "high"
    assert level("I had an MS relapse last month, the steroids helped") == "none"
    assert level("I take 40 mg of citalopram every morning") == "none"
    assert level("i've been stockpiling my meds for when I'm ready") == "high"


def test_assessment_names_categories_and_evidence():
    risk = DEFAULT_DETECTOR.assess("I've been saving up my pills. Goodbye forever")
    assert risk.level == "high" and {"method", "preparatory"} <= risk.categories
    assert "saving up my pills" in risk.evidence and "goodbye forever" in risk.evidence


# ---------------------------------------------------------------------------- graded verdicts and policy

def test_high_risk_holds_with_resources_whatever_the_policy():
    for policy in ("hold", "post"):
        hook = CrisisLanguage.from_settings({"moderate_risk": policy})
        v = hook(ctx("I have a plan and I'm going to do it this weekend"))
        assert isinstance(v, Hold) and v.priority is Priority.HIGH and v.category == "crisis"
        assert v.resources and v.notice and "high risk" in v.reason and "intent_plan" in v.reason


def test_moderate_risk_holds_by_default_and_posts_with_support_by_policy():
    text = "everyone would be better off if I wasn't around"
    held = CrisisLanguage.from_settings({})(ctx(text))
    assert isinstance(held, Hold) and held.priority is Priority.HIGH and "moderate risk" in held.reason
    supported = CrisisLanguage.from_settings({"moderate_risk": "post"})(ctx(text))
    assert isinstance(supported, Support)
    assert supported.category == "crisis" and supported.priority is Priority.HIGH
    assert supported.resources == held.resources and supported.notice == DEFAULT_SUPPORT_NOTICE
    assert "hopelessness" in supported.reason
    assert CrisisLanguage.from_settings({"moderate_risk": "post"})(ctx("good morning all")) == Allow()


def test_policy_key_is_validated_and_layered_per_community():
    with pytest.raises(ValueError, match="moderate_risk must be one of hold, post"):
        CrisisLanguage.from_settings({"moderate_risk": "publish"})
    cfg = parse_config({"communities": {"peer": {"hooks": {"crisis": {"moderate_risk": "post"}}}}})
    default_room = build_specs(resolve(cfg, []).hooks)[0].hook
    peer_room = build_specs(resolve(cfg, [cfg.communities["peer"]]).hooks)[0].hook
    assert isinstance(default_room, CrisisLanguage) and default_room.moderate_risk == "hold"
    assert isinstance(peer_room, CrisisLanguage) and peer_room.moderate_risk == "post"
    bad = parse_config({"hooks": {"crisis": {"moderate_risk": "sometimes"}}})
    with pytest.raises(HookLoadError, match="moderate_risk"):
        build_specs(resolve(bad, []).hooks)


def test_locale_support_notice_and_resources_follow_the_sender():
    hook = CrisisLanguage.from_settings(
        {
            "moderate_risk": "post",
            "locales": {"de": {"resources": [{"name": "Telefonseelsorge", "contact": "0800 111 0 111"}], "support_notice": "Du bist nicht allein."}},
        }
    )
    v = hook(ctx("ich will nicht mehr leben", locale="de-AT"))
    assert isinstance(v, Support) and v.notice == "Du bist nicht allein." and v.resources[0].name == "Telefonseelsorge"


def test_community_phrases_add_to_or_replace_a_locales_rules():
    extra = CrisisLanguage.from_settings({"locales": {"en": {"extra_phrases": ["feeling purple tonight"]}}})
    assert extra.assess("honestly Feeling PURPLE tonight").level == "high"
    assert extra.assess("I want to die").level == "moderate"  # built-in rules still on
    replaced = CrisisLanguage.from_settings({"locales": {"en": {"phrases": ["feeling purple tonight"]}}})
    assert replaced.assess("feeling purple tonight").level == "high"
    assert replaced.assess("I don't want to be alive anymore").level == "none"  # English rules replaced
    assert replaced.assess("je veux mourir").level == "moderate"  # other locales keep theirs


def test_detectors_are_built_once_per_configuration():
    assert detector_for(("en",)) is detector_for(("en",))
    a = CrisisLanguage.from_settings({"moderate_risk": "post"})
    b = CrisisLanguage.from_settings({})
    assert a.detector is b.detector


# ---------------------------------------------------------------------------- the Support verdict

SUPPORT = Support("crisis language, moderate risk", "crisis", "posted; here is help", (Resource("Line", "1"),))


def test_combine_places_support_between_redact_and_hold():
    r1 = Redact((Span(0, 3, "phone"),), "phone")
    r2 = Redact((Span(2, 6, "email"),), "email")
    assert combine([Allow(), SUPPORT]) == SUPPORT
    merged = combine([r1, SUPPORT, r2])
    assert isinstance(merged, Support) and merged.resources == SUPPORT.resources
    assert merged.spans == (Span(0, 6, "phone"),)  # publish redacted, and support
    assert combine([SUPPORT, Hold("first message")]) == Hold("first message")
    assert combine([SUPPORT, Reject("no")]) == Reject("no")
    bare = Support("other hook")
    assert combine([bare, SUPPORT]) == SUPPORT  # the one with resources speaks to the sender


async def test_pipeline_accepts_support_and_review_keeps_it_when_a_hold_wins():
    crisis = CrisisLanguage.from_settings({"moderate_risk": "post"})
    pipeline = Pipeline([HookSpec("crisis", crisis), HookSpec("pii", PiiRedaction.from_settings({}))])
    review = await pipeline.review(ctx("nobody would miss me if i was gone, call me on +44 7700 900123"))
    assert isinstance(review.verdict, Support) and [s.label for s in review.verdict.spans] == ["phone"]
    assert review.failures == ()
    assert review.support() == review.verdicts[0][1]

    def hold_all(_: MessageContext) -> Hold:
        return Hold("new member", category="new_member")

    stricter = Pipeline([HookSpec("crisis", crisis), HookSpec("new", hold_all)])
    review = await stricter.review(ctx("nobody would miss me if i was gone"))
    assert isinstance(review.verdict, Hold) and review.verdict.category == "new_member"
    support = review.support()
    assert isinstance(support, Support) and support.resources  # the server still reaches out
    assert (await stricter.review(ctx("hello"))).support() is None


# ---------------------------------------------------------------------------- a model in a process pool

CLASSIFIER = {
    "use": "moderation_hooks.process_pool:ProcessPoolClassifier",
    "classify": "tests.moderation_test_hooks:score_text",
    "hold_above": 0.8,
    "category": "model",
    "timeout": 10,
}


async def test_process_pool_classifier_through_the_pipeline_never_blocks_the_loop():
    cfg = parse_config({"pipeline": ["crisis", "model"], "hooks": {"model": dict(CLASSIFIER)}})
    specs = build_specs(resolve(cfg, []).hooks)
    assert specs[1].in_thread is False  # an async hook: awaited under its timeout
    hook = specs[1].hook
    assert isinstance(hook, ProcessPoolClassifier)
    pipeline = Pipeline(specs)
    try:
        held = await pipeline.review(ctx("a nasty message"))
        assert isinstance(held.verdict, Hold) and held.verdict.category == "model" and "0.95" in held.verdict.reason
        assert (await pipeline.review(ctx("a kind message"))).verdict == Allow()
        # The classifier runs in another process ...
        pid = await asyncio.get_running_loop().run_in_executor(hook.pool, os.getpid)
        assert pid != os.getpid()
        # ... so half a second of "model" time leaves the event loop free.
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        review = await pipeline.review(ctx("write this slowly"))
        task.cancel()
        assert review.verdict == Allow() and ticks >= 20
        # Scores map to verdicts; settings are checked.
        assert isinstance(hook.verdict_for(0.8), Hold) and hook.verdict_for(0.79) == Allow()
        with pytest.raises(HookLoadError, match="classify"):
            build_specs(resolve(parse_config({"hooks": {"model": {"use": CLASSIFIER["use"]}}, "pipeline": ["model"]}), []).hooks)
    finally:
        shutdown_pools()


async def test_process_pool_classifier_loaded_by_dotted_path_in_a_real_server(valkey, clients, tmp_path):
    config = tmp_path / "model.toml"
    config.write_text(
        '[moderation]\npipeline = ["crisis", "model"]\n\n[moderation.hooks.model]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in CLASSIFIER.items())
    )
    server = ServerProcess(valkey.url, name="model", args=["--config", str(config)])
    try:
        server.wait_ready()
        community = unique("model")
        channel = server.make_room(community, "r")
        effective = server.api("GET", f"/api/communities/{community}/rooms/r/moderation").json()["effective"]
        assert [h["name"] for h in effective["pipeline"]] == ["crisis", "model"]
        moderator = await joined(clients, server.ws_url, "m", {community: "moderator"}, channel + "/mod")
        watcher = await joined(clients, server.ws_url, "w", {community: "member"}, channel)
        sender = await joined(clients, server.ws_url, "s", {community: "member"})
        held = await send(sender, channel, "something nasty")
        assert held["status"] == "held", held
        hold = await next_event(moderator, channel + "/mod", "hold.created")
        assert hold["hold"]["category"] == "model" and hold["hold"]["text"] == "something nasty"
        await no_event(watcher, channel, "message")
        published = await send(sender, channel, "something kind")
        assert published["status"] == "published", published
        assert (await next_event(watcher, channel, "message"))["text"] == "something kind"
        # The crisis hook still runs first; moderate risk is held by default.
        crisis = await send(sender, channel, "everyone would be better off without me")
        assert crisis["status"] == "held"
        assert (await next_event(moderator, channel + "/mod", "hold.created"))["hold"]["category"] == "crisis"
    finally:
        server.stop()


def test_corpus_categories_counted():
    counts = Counter(e.category for e in load(TUNE) if e.label != "none")
    assert min(counts[c] for c in CATEGORIES) >= 15
