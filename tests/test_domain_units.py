"""Fast unit tests of the pure domain: channels, policy, settings, drafts, verdicts."""

from __future__ import annotations

import asyncio

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
    Span,
)
from moderation_hooks.verdict import apply_redactions, combine
from rooms.channels import ChannelKind, parse_channel
from rooms.messages import InvalidMessage, parse_draft
from rooms.model import Member, Role, Room, RoomSettings
from rooms.policy import may_moderate, may_post, may_subscribe


def member(**communities: str) -> Member:
    return Member("u1", "U", {c: Role(r) for c, r in communities.items()})


def test_parse_channel_kinds():
    assert parse_channel("demo:lobby").kind is ChannelKind.ROOM
    assert parse_channel("demo:lobby/mod").kind is ChannelKind.ROOM_MOD
    assert parse_channel("demo/mod").kind is ChannelKind.COMMUNITY_MOD
    assert parse_channel("demo:lobby/qa").kind is ChannelKind.QA
    assert parse_channel("user#42").user == "42"
    for bad in ("", "demo", "Demo:lobby", "demo:lobby/x", "demo:lo:bby", "user#", "a:" + "b" * 70, "demo/qa"):
        assert parse_channel(bad) is None, bad
    assert str(parse_channel("demo:lobby/qa")) == "demo:lobby/qa"


def test_policy_subscribe_and_post():
    room = Room("demo", "lobby")
    staff_room = Room("demo", "staff", settings=RoomSettings(min_role=Role.MODERATOR))
    locked = Room("demo", "quiet", settings=RoomSettings(locked=True))
    assert may_subscribe(member(demo="member"), parse_channel("demo:lobby"), room) is None
    assert may_subscribe(member(other="member"), parse_channel("demo:lobby"), room).code == 103
    assert may_subscribe(member(demo="member"), parse_channel("demo:nope"), None).code == 102
    assert may_subscribe(member(demo="member"), parse_channel("demo:staff"), staff_room).code == 103
    assert may_subscribe(member(demo="moderator"), parse_channel("demo:staff"), staff_room) is None
    assert may_subscribe(member(demo="member"), parse_channel("demo:lobby/mod"), room).code == 103
    assert may_subscribe(member(demo="admin"), parse_channel("demo:lobby/mod"), room) is None
    assert may_subscribe(member(demo="member"), parse_channel("user#u1"), None) is None
    assert may_subscribe(member(demo="member"), parse_channel("user#u2"), None).code == 103
    assert may_post(member(demo="member"), locked).code == 1004  # room locked (issue 23)
    assert may_post(member(demo="moderator"), locked) is None
    assert may_moderate(member(demo="host"), "demo").code == 103
    assert may_moderate(member(demo="moderator"), "demo") is None


def test_room_settings_validation():
    s = RoomSettings().updated({"slow_mode": 30, "min_role": "host"})
    assert s.slow_mode == 30 and s.min_role is Role.HOST
    for bad in ({"nope": 1}, {"slow_mode": "x"}, {"slow_mode": -1}, {"history_size": True}, {"min_role": "king"}):
        with pytest.raises(ValueError):
            RoomSettings().updated(bad)
    assert RoomSettings.from_dict(s.to_dict()) == s


def test_parse_draft():
    room = Room("demo", "lobby", settings=RoomSettings(max_message_length=5))
    assert parse_draft({"text": " hi "}, room).text == "hi"
    for bad in (None, "x", {"text": 1}, {"text": ""}, {"text": "toolong"}, {"text": "ok", "client_msg_id": ""}):
        with pytest.raises(InvalidMessage):
            parse_draft(bad, room)


def test_combine_strength_and_redactions():
    a = Redact((Span(0, 3, "phone"),), "phone")
    b = Redact((Span(2, 6, "email"), Span(10, 12, "email")), "email")
    merged = combine([Allow(), a, b])
    assert isinstance(merged, Redact)
    assert [(s.start, s.end) for s in merged.spans] == [(0, 6), (10, 12)]
    assert isinstance(combine([a, Hold("x"), Allow()]), Hold)
    assert isinstance(combine([Hold("x"), Reject("no"), a]), Reject)
    high = combine([Hold("a"), Hold("b", Priority.HIGH)])
    assert high.priority is Priority.HIGH
    assert isinstance(combine([]), Allow)
    assert apply_redactions("call 555 now", (Span(5, 8, "phone"),)) == "call [phone hidden] now"


def _ctx() -> MessageContext:
    return MessageContext(text="hi", user="u", name="U", role=Role.MEMBER, room=Room("d", "r"), now=0.0)


def test_pipeline_failures_hold_by_default():
    def boom(ctx):
        raise RuntimeError("bug")

    async def slow(ctx):
        await asyncio.sleep(5)
        return Allow()

    def wrong(ctx):
        return "allow"

    for hook in (boom, slow, wrong):
        review = asyncio.run(Pipeline([HookSpec("h", hook, timeout=0.05)]).review(_ctx()))
        assert isinstance(review.verdict, Hold) and review.failures == ("h",)
    review = asyncio.run(Pipeline([HookSpec("h", boom, on_failure="allow")]).review(_ctx()))
    assert isinstance(review.verdict, Allow)
    review = asyncio.run(Pipeline([HookSpec("h", boom, on_failure="reject")]).review(_ctx()))
    assert isinstance(review.verdict, Reject)
