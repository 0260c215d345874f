"""The one table of who may do what on which channel (issue 23).

A cell is (channel kind, actor, action) -> allowed, or refused with a named code. Every RPC
and HTTP route asks ``check`` (or ``may``) before it acts; no feature keeps a permission
check of its own beside it. After the table, ``check`` applies the room's state (``min_role``,
a lock, a closed conversation); sanctions (ban, mute, kick, slow mode, stage mode) are the
moderation and Q&A gates of the one submit path, which run after this.

- Kinds that must not exist (the Q&A board or screening feed of a private conversation) are
  refused by name with 102 for every actor and action.
- A cell marked ``NA`` is not reachable: no call asks it (e.g. typing on a Q&A board).
- ``edit`` and ``delete`` are on the actor's own message: someone else's message is 103
  whatever the cell says (moderators remove others' messages with ``moderate``).

``python -m rooms.capabilities --markdown`` prints the table for docs/protocol.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum

from rooms.channels import ChannelKind, ChannelName
from rooms.model import Member, Role, Room
from rooms.private import PrivateConversation, private_of
from rooms.refusals import BAD_REQUEST, PERMISSION_DENIED, ROOM_LOCKED, UNKNOWN_CHANNEL, Denied
from rooms.retention import PSEUDONYM_PREFIX

__all__ = ["BAD_REQUEST", "NA", "RPC_ACTIONS", "Action", "Actor", "Kind", "TABLE", "check", "kind_of", "markdown", "who_is"]


class Kind(str, Enum):
    ROOM = "room"
    QA_BOARD = "qa_board"  # <community>:<room>/qa
    SCREENING = "screening"  # <community>:<room>/screening
    ROOM_MOD = "room_mod"  # <community>:<room>/mod
    PRIVATE = "private"  # <community>:dm-<id>, a private support conversation
    PRIVATE_QA = "private_qa"  # <community>:dm-<id>/qa or /screening: must not exist
    USER = "user"  # user#<id>
    COMMUNITY = "community"  # <community>/mod and community-wide calls (mod.ban, support.open, crisis.*)


class Actor(str, Enum):
    """Who acts, relative to the channel: a role in the community, or a relation."""

    OUTSIDER = "outsider"  # no role in the community (or another user's user# channel)
    MEMBER = "member"  # a member (in a private conversation: one it is not with)
    HOST = "host"  # in a private conversation: a host not invited to it
    SUPPORTER = "supporter"  # a peer supporter (issue 27): a member's rights, no moderation
    MODERATOR = "moderator"
    ADMIN = "admin"
    CONVERSATION_MEMBER = "conversation_member"  # the member a private conversation is with
    INVITED_HOST = "invited_host"  # a host (or a supporter) invited to the private conversation
    OWNER = "owner"  # the user a user# channel belongs to
    PLATFORM = "platform"  # the HTTP API (its key): announcements, moderation, catalog


class Action(str, Enum):
    SUBSCRIBE = "subscribe"  # subscribe (and receive)
    HISTORY = "history"  # history, qa.board, qa.sessions
    PRESENCE = "presence"  # presence, presence_stats, chat.presence
    TYPING = "typing"  # chat.typing
    POST = "post"  # publish, chat.send, POST .../messages
    EDIT = "edit"  # chat.edit (own message), PATCH of a platform post
    DELETE = "delete"  # chat.delete (own message), DELETE of a platform post
    REACT = "react"  # chat.react
    REPORT = "report"  # chat.report
    ASK = "ask"  # qa.ask
    VOTE = "vote"  # qa.vote, qa.unvote
    RUN_QA = "run_qa"  # qa.create, start, end, stage, screen, answering, answer, pin, ...
    MODERATE = "moderate"  # mod.*, crisis.*, support.invite, support.close
    OPEN_SUPPORT = "open_support"  # support.open
    WAITING = "waiting"  # peer.waiting, peer.take (the waiting-for-a-reply list, issue 27)


@dataclass(frozen=True, slots=True)
class _NotApplicable:
    def __repr__(self) -> str:
        return "NA"


NA = _NotApplicable()
Cell = Denied | None | _NotApplicable

STAFF = (Actor.MODERATOR, Actor.ADMIN)
ROLES = (Actor.OUTSIDER, Actor.MEMBER, Actor.SUPPORTER, Actor.HOST, Actor.MODERATOR, Actor.ADMIN)

# The actors that arise on each kind.
PROFILES: dict[Kind, tuple[Actor, ...]] = {
    Kind.ROOM: (*ROLES, Actor.PLATFORM),
    Kind.QA_BOARD: ROLES,
    Kind.SCREENING: ROLES,
    Kind.ROOM_MOD: ROLES,
    Kind.PRIVATE: (*ROLES, Actor.CONVERSATION_MEMBER, Actor.INVITED_HOST, Actor.PLATFORM),
    Kind.PRIVATE_QA: (*ROLES, Actor.CONVERSATION_MEMBER, Actor.INVITED_HOST),
    Kind.USER: (Actor.OUTSIDER, Actor.OWNER),
    Kind.COMMUNITY: (*ROLES, Actor.PLATFORM),
}

# The actions each kind takes (the others are NA on it).
ACTIONS: dict[Kind, tuple[Action, ...]] = {
    Kind.ROOM: (
        Action.SUBSCRIBE, Action.HISTORY, Action.PRESENCE, Action.TYPING, Action.POST, Action.EDIT,
        Action.DELETE, Action.REACT, Action.REPORT, Action.MODERATE,
    ),
    Kind.QA_BOARD: (Action.SUBSCRIBE, Action.HISTORY, Action.ASK, Action.VOTE, Action.RUN_QA),
    Kind.SCREENING: (Action.SUBSCRIBE,),
    Kind.ROOM_MOD: (Action.SUBSCRIBE,),
    Kind.PRIVATE: (
        Action.SUBSCRIBE, Action.HISTORY, Action.PRESENCE, Action.TYPING, Action.POST, Action.EDIT,
        Action.DELETE, Action.REACT, Action.REPORT, Action.MODERATE,
    ),
    Kind.PRIVATE_QA: (Action.SUBSCRIBE, Action.HISTORY, Action.ASK, Action.VOTE, Action.RUN_QA),
    Kind.USER: (Action.SUBSCRIBE,),
    Kind.COMMUNITY: (Action.SUBSCRIBE, Action.MODERATE, Action.OPEN_SUPPORT, Action.WAITING),
}

_NOT_MEMBER = Denied(PERMISSION_DENIED, "not a member of this community")
_STAFF_ONLY = Denied(PERMISSION_DENIED, "only moderators and admins of this community")
_SUPPORTERS = Denied(PERMISSION_DENIED, "only supporters, moderators and admins of this community")
_PRIVATE = Denied(PERMISSION_DENIED, "a private conversation: only its member, moderators and invited hosts")
_NO_PRIVATE_QA = Denied(UNKNOWN_CHANNEL, "a private conversation has no Q&A board")
_HOSTS = Denied(PERMISSION_DENIED, "only hosts, moderators and admins of this community")
_PLATFORM = Denied(PERMISSION_DENIED, "only the platform (the HTTP API) may change a platform post")


def _cell(kind: Kind, actor: Actor, action: Action) -> Cell:
    """The rules, per kind. ``TABLE`` is built from this once; tests check it is complete."""
    if action not in ACTIONS[kind]:
        return NA
    if kind is Kind.PRIVATE_QA:
        return _NO_PRIVATE_QA
    if actor is Actor.PLATFORM:
        # The API key: announcements and moderation; it has no connection to subscribe with.
        # Its posts are deleted through the API (moderation's DELETE); there is no edit route.
        return None if action in (Action.POST, Action.DELETE, Action.MODERATE) else NA
    if kind is Kind.USER:
        return None if actor is Actor.OWNER else Denied(PERMISSION_DENIED, "a private channel belongs to one user")
    if actor is Actor.OUTSIDER:
        return _NOT_MEMBER
    staff = actor in STAFF
    if action is Action.MODERATE:
        return None if staff else _STAFF_ONLY
    if kind in (Kind.ROOM_MOD, Kind.COMMUNITY) and action is Action.SUBSCRIBE:
        return None if staff else _STAFF_ONLY
    if kind is Kind.COMMUNITY and action is Action.WAITING:
        return None if staff or actor is Actor.SUPPORTER else _SUPPORTERS
    if kind is Kind.COMMUNITY and action is Action.OPEN_SUPPORT:
        return None if staff or actor is Actor.HOST else _HOSTS
    if kind is Kind.SCREENING:
        return None if staff or actor is Actor.HOST else _HOSTS
    if kind is Kind.QA_BOARD:
        if action is Action.RUN_QA:
            return None if staff or actor is Actor.HOST else Denied(PERMISSION_DENIED, "only hosts, moderators and admins run Q&A sessions")
        return None
    if kind is Kind.PRIVATE:
        return None if staff or actor in (Actor.CONVERSATION_MEMBER, Actor.INVITED_HOST) else _PRIVATE
    return None  # ROOM: every member (the room's state and sanctions come after)


TABLE: dict[tuple[Kind, Actor, Action], Cell] = {
    (kind, actor, action): _cell(kind, actor, action)
    for kind in Kind
    for actor in PROFILES[kind]
    for action in Action
}


# ---------------------------------------------------------------------------- asking it


def kind_of(channel: ChannelName, room: Room | None) -> Kind:
    private = room is not None and private_of(room) is not None
    if channel.kind is ChannelKind.USER:
        return Kind.USER
    if channel.kind is ChannelKind.COMMUNITY_MOD:
        return Kind.COMMUNITY
    if channel.kind in (ChannelKind.QA, ChannelKind.QA_SCREENING) and private:
        return Kind.PRIVATE_QA
    if channel.kind is ChannelKind.ROOM:
        return Kind.PRIVATE if private else Kind.ROOM
    return {ChannelKind.ROOM_MOD: Kind.ROOM_MOD, ChannelKind.QA: Kind.QA_BOARD, ChannelKind.QA_SCREENING: Kind.SCREENING}[channel.kind]


def who_is(member: Member, kind: Kind, community: str, conversation: PrivateConversation | None = None, user: str = "") -> Actor:
    """The actor profile of ``member`` on a channel of ``kind``."""
    if kind is Kind.USER:
        return Actor.OWNER if member.user == user else Actor.OUTSIDER
    role = member.role_in(community)
    if role is None:
        return Actor.OUTSIDER
    if conversation is not None and not role.is_staff:
        if member.user == conversation.member:
            return Actor.CONVERSATION_MEMBER
        if role in (Role.HOST, Role.SUPPORTER) and member.user in conversation.hosts:
            return Actor.INVITED_HOST
    return Actor(role.value)


def check(member: Member, action: Action, channel: ChannelName, room: Room | None) -> Denied | None:
    """May ``member`` do ``action`` on ``channel`` (whose room is ``room``, if any)? The
    table, then the room's state. A NA cell is refused (103): no call should ask it."""
    kind = kind_of(channel, room)
    conv = private_of(room) if room is not None else None
    actor = who_is(member, kind, channel.community, conv, channel.user)
    cell = TABLE.get((kind, actor, action), NA)
    if isinstance(cell, _NotApplicable):
        return Denied(PERMISSION_DENIED, f"{action.value} is not something one does on a {kind.value} channel")
    if cell is not None:
        return cell
    if room is None or actor is Actor.PLATFORM:
        return None
    return _state(member, action, kind, room)


_WRITES = (Action.POST, Action.EDIT, Action.REACT, Action.TYPING)


def _state(member: Member, action: Action, kind: Kind, room: Room) -> Denied | None:
    """The room's state after the table: ``min_role`` keeps lower roles out of the room and
    its board; a lock (and a closed conversation, which is locked) keeps non-staff from
    writing."""
    role = member.role_in(room.community)
    staff = role is not None and role.is_staff
    if staff or role is None:
        return None
    if kind in (Kind.ROOM, Kind.QA_BOARD) and _rank(role) < _rank(room.settings.min_role):
        return Denied(PERMISSION_DENIED, f"room requires role {room.settings.min_role.value}")
    if action in _WRITES and kind in (Kind.ROOM, Kind.PRIVATE) and room.settings.locked:
        conv = private_of(room)
        if conv is not None and conv.closed:
            return Denied(ROOM_LOCKED, "this conversation is closed: only moderators may post")
        return Denied(ROOM_LOCKED, "room is locked: only moderators may post")
    return None


_RANK = {Role.MEMBER: 0, Role.SUPPORTER: 0, Role.HOST: 1, Role.MODERATOR: 2, Role.ADMIN: 3}  # a supporter ranks with member


def _rank(role: Role) -> int:
    return _RANK[role]


# ---------------------------------------------------------------------------- identities

# User ids the server itself writes as: platform posts (the HTTP API), the server's own
# audit entries and events. Nobody connects as one of them.
RESERVED_SUBJECTS = frozenset({"platform", "system", "api"})


def reserved_subject(user: str) -> str | None:
    """Why ``user`` may not be a token's subject, or None."""
    if user.strip().lower() in RESERVED_SUBJECTS:
        return f"sub {user!r} is reserved for the server (platform posts, audit)"
    if user.startswith(PSEUDONYM_PREFIX):
        return f"sub {user!r}: the prefix {PSEUDONYM_PREFIX!r} is reserved for erased members"
    return None


# ---------------------------------------------------------------------------- RPC methods

# Which action of the table each RPC method asks for. ``None``: the call reads or changes only
# the caller's own data (their rooms, sanctions, conversations, resources) and names no
# channel another member could be affected through. tests/test_capabilities.py fails when a
# registered method is missing here, so a new RPC cannot arrive without its place in the table.
_RPC_GROUPS: dict[Action | None, tuple[str, ...]] = {
    Action.POST: ("chat.send",),
    Action.EDIT: ("chat.edit", "peer.note"),  # peer.note on another's post asks MODERATE
    Action.DELETE: ("chat.delete",),
    Action.REACT: ("chat.react",),
    Action.REPORT: ("chat.report",),
    Action.TYPING: ("chat.typing",),
    Action.PRESENCE: ("presence.members", "presence.counts"),
    Action.HISTORY: ("qa.board", "qa.sessions"),
    Action.ASK: ("qa.ask",),
    Action.VOTE: ("qa.vote", "qa.unvote"),
    Action.RUN_QA: (
        "qa.create", "qa.start", "qa.end", "qa.stage", "qa.screen", "qa.answering", "qa.answer",
        "qa.pin", "qa.dismiss", "qa.mark_answered", "qa.reopen", "qa.trace",
    ),
    Action.MODERATE: (
        "mod.approve", "mod.audit", "mod.ban", "mod.delete", "mod.dismiss_report", "mod.holds",
        "mod.kick", "mod.lock", "mod.members", "mod.mute", "mod.reject", "mod.remove_recent",
        "mod.reports", "mod.sanctions", "mod.slow_mode", "mod.unban", "mod.unlock", "mod.unmute",
        "crisis.ack", "crisis.close", "crisis.contact", "crisis.get", "crisis.list", "crisis.mark",
        "support.invite", "support.close",
    ),
    Action.OPEN_SUPPORT: ("support.open",),
    Action.WAITING: ("peer.waiting", "peer.take"),
    None: (
        "chat.rooms", "chat.sanctions", "support.conversations", "support.resources",
        # peer support (issue 27): the caller's own blocks, muted rooms and note preferences
        "peer.block", "peer.unblock", "peer.blocks", "peer.mute", "peer.settings", "peer.notes", "peer.note_prefs",
    ),
}
RPC_ACTIONS: dict[str, Action | None] = {m: action for action, methods in _RPC_GROUPS.items() for m in methods}


# ---------------------------------------------------------------------------- the docs


def _show(cell: Cell) -> str:
    if isinstance(cell, _NotApplicable):
        return "·"
    if cell is None:
        return "yes"
    return str(cell.code)


def markdown() -> str:
    """The table as Markdown (docs/protocol.md embeds this text; a test keeps them equal)."""
    lines = [
        "One table per channel kind: rows are actors, columns actions. `yes` allowed; a number",
        "is the error code of the refusal; `·` not applicable (no call asks it).",
        "",
    ]
    for kind in Kind:
        actions = [a for a in Action if a in ACTIONS[kind]]
        lines.append(f"**{kind.value}**")
        lines.append("")
        lines.append("| actor | " + " | ".join(a.value for a in actions) + " |")
        lines.append("|---|" + "---|" * len(actions))
        for actor in PROFILES[kind]:
            cells = [_show(TABLE[(kind, actor, a)]) for a in actions]
            lines.append(f"| {actor.value} | " + " | ".join(cells) + " |")
        lines.append("")
    reasons = sorted({(c.code, c.reason) for c in TABLE.values() if isinstance(c, Denied)})
    lines.append("Refusals in the table:")
    lines.append("")
    for code, reason in reasons:
        lines.append(f"- {code}: {reason}")
    lines.append("")
    lines.append(
        "After the table, the room's state: below `min_role` 103 (rooms and their boards); "
        "a locked room or a closed conversation refuses post, edit, react and typing with 1004 "
        "(staff excepted). Then the gates of the submit path: ban 1003, mute 1002, kick 103, "
        "slow mode 1005, stage mode 1006."
    )
    lines.append("")
    lines.append("RPC methods by the action they ask for (`own data`: the caller's own, no channel):")
    lines.append("")
    for action, methods in _RPC_GROUPS.items():
        lines.append(f"- {action.value if action is not None else 'own data'}: " + ", ".join(f"`{m}`" for m in methods))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    if "--markdown" in sys.argv[1:]:
        sys.stdout.write(markdown())
    else:
        sys.stdout.write("usage: python -m rooms.capabilities --markdown\n")
