"""The one submit path (``Poster.submit``) in-process: gates per kind, the verdict matched once,
the destination or the hold handler, observers, and the typed outcome's wire form.

The poster here never touches the engine: each submission brings its own destination (what
puts accepted text where it goes), and the reviewer is a fixed verdict, so what is checked is
the path itself. Room posting through Redis is covered by the protocol and moderation tests."""

from __future__ import annotations

from typing import Any

import pytest

from chatserver.auth import Identity
from chatserver.errors import ReplyError
from chatserver.posting import (
    Held,
    Outcome,
    Placed,
    Poster,
    Published,
    Rejected,
    Submission,
    from_sender,
    outcome_dict,
)
from chatserver.protocol import codes
from chatserver.stats import Stats
from moderation_hooks import Allow, Hold, MessageContext, Redact, Reject, Review, Span
from rooms.messages import Draft
from rooms.model import Member, Role, Room

ROOM = Room("c", "r")


class Client:
    """A sender as posting sees one (identity, subscriptions, ClientInfo)."""

    def __init__(self, user: str = "u1") -> None:
        self.identity: Identity | None = Identity(Member(user, user.upper(), {"c": Role.MEMBER}), None)
        self.subs: dict[str, Any] = {}

    @property
    def user(self) -> str:
        assert self.identity is not None
        return self.identity.member.user

    def client_info(self, chan_info: bytes = b"") -> dict[str, Any]:
        return {"user": self.user, "client": "c1"}


class Fixed:
    def __init__(self, verdict: Any) -> None:
        self.verdict = verdict
        self.seen: list[MessageContext] = []

    async def review(self, ctx: MessageContext) -> Review:
        self.seen.append(ctx)
        return Review(self.verdict, (("fixed", self.verdict),))


def poster_with(verdict: Any) -> tuple[Poster, Fixed, list[tuple[str, str, tuple[str, ...]]], list[Outcome]]:
    poster = Poster(streams=None, history_of=lambda channel: None, stats=Stats(), idempotency_ttl=60)  # type: ignore[arg-type]
    reviewer = Fixed(verdict)
    poster.use_pipeline(reviewer)
    observed: list[Outcome] = []

    async def observe(sub: Submission, review: Review, outcome: Outcome) -> None:
        observed.append(outcome)

    poster.add_observer(observe)
    placed: list[tuple[str, str, tuple[str, ...]]] = []
    return poster, reviewer, placed, observed


def submission(placed: list[tuple[str, str, tuple[str, ...]]], text: str = "hello there", **fields: Any) -> Submission:
    async def destination(sub: Submission, item_id: str, accepted: str, hidden: tuple[str, ...]) -> Placed:
        placed.append((item_id, accepted, hidden))
        return Placed(offset=7, epoch="e1", detail="board")

    return from_sender(Client(), ROOM, text, destination, item_id="m1", **fields)


async def test_allow_and_redact_reach_the_destination():
    poster, reviewer, placed, observed = poster_with(Allow())
    outcome = await poster.submit(submission(placed, kind="question", extra={"session": "s1"}))
    assert outcome == Published("m1", "hello there", offset=7, epoch="e1", detail="board")
    assert placed == [("m1", "hello there", ())] and observed == [outcome]
    assert reviewer.seen[0].kind == "question" and reviewer.seen[0].extra == {"session": "s1"}
    assert outcome_dict(outcome) == {"status": "published", "id": "m1", "offset": 7, "epoch": "e1"}

    poster, _, placed, _ = poster_with(Redact((Span(6, 11, "name"),), "a name"))
    outcome = await poster.submit(submission(placed))
    assert isinstance(outcome, Published) and outcome.hidden == ("name",) and outcome.reason == "a name"
    assert placed == [("m1", outcome.text, ("name",))] and "there" not in outcome.text
    assert outcome_dict(outcome)["status"] == "redacted" and outcome_dict(outcome)["hidden"] == ["name"]


async def test_hold_reject_and_unholdable_items_are_not_placed():
    poster, _, placed, observed = poster_with(Hold("looks risky"))
    none_queue = await poster.submit(submission(placed))
    assert isinstance(none_queue, Rejected) and "no review queue" in none_queue.notice

    async def hold(sub: Submission, review: Review, item_id: str) -> Held:
        return Held(item_id, "waiting for a moderator", {"id": item_id, "expires_at": "soon", "duplicate": False})

    poster.use_hold(hold)
    held = await poster.submit(submission(placed))
    assert held == Held("m1", "waiting for a moderator", {"id": "m1", "expires_at": "soon", "duplicate": False})
    assert outcome_dict(held) == {"status": "held", "id": "m1", "reason": "waiting for a moderator", "hold": held.details}
    refused = await poster.submit(submission(placed, holdable=False))
    assert refused == Rejected("m1", "looks risky", "looks risky")

    poster2, _, placed2, _ = poster_with(Reject("not here"))
    assert await poster2.submit(submission(placed2)) == Rejected("m1", "not here", "not here")
    assert placed == [] and placed2 == []
    assert observed == [none_queue, held, refused]


async def test_gates_apply_to_their_kinds_and_reviewed_items_skip_review():
    poster, reviewer, placed, observed = poster_with(Allow())
    calls: list[str] = []

    async def no_messages(sender: Any, room: Room, draft: Draft) -> None:
        calls.append(draft.text)
        raise ReplyError(codes.SLOW_MODE, "slow down")

    poster.add_gate(no_messages, kinds=("message",))
    assert isinstance(await poster.submit(submission(placed, kind="answer")), Published)
    with pytest.raises(ReplyError) as refused:
        await poster.submit(submission(placed, text="again"))
    assert refused.value.code == codes.SLOW_MODE.code and calls == ["again"]

    async def to_room(sub: Submission, item_id: str, accepted: str, hidden: tuple[str, ...]) -> Placed:
        placed.append((item_id, accepted, hidden))
        return Placed(offset=9, epoch="e2")

    approved = Submission(
        room=ROOM, author=Member("u2", "U2", {}), role=Role.MEMBER, text="approved text",
        destination=to_room, item_id="h1", reviewed=True, hidden=("email",),
    )
    outcome = await poster.submit(approved)
    assert outcome == Published("h1", "approved text", ("email",), offset=9, epoch="e2")
    assert len(reviewer.seen) == 1 and calls == ["again"]  # neither gates nor review ran
    assert outcome not in observed  # nor observers: the moderator's approval was audited
