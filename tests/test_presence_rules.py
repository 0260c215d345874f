"""Unit tests for the pure presence rules (presence/): no Redis, no clock."""

from __future__ import annotations

import pytest

from presence import (
    Counts,
    CountsDue,
    Liveness,
    MemberFlags,
    MemberJoined,
    MemberLeft,
    OnlineMember,
    PushMode,
    RoomPresence,
    RoomRules,
    TypingPolicy,
    TypingSlot,
    counts_due,
    counts_view,
    decide_typing,
    may_see,
    member_flags,
    push_mode,
    room_threshold,
    sort_members,
    typing_stale,
)
from presence.typing import typing_stopped

RULES = RoomRules(join_leave=True, threshold=200)
NONE = MemberFlags.NONE


def joined(state, node, client, user, flags=NONE, rules=RULES, deadline=100.0):
    return state.join(node, client, user, flags, deadline=deadline, rules=rules)


# ---------------------------------------------------------------------- flags and visibility


def test_member_flags_round_trip_as_one_digit():
    flags = member_flags(is_staff=True, is_host=False, invisible=True)
    assert flags == MemberFlags.STAFF | MemberFlags.INVISIBLE
    assert flags.encode() == "5"
    assert MemberFlags.decode(b"5rest") == flags
    assert MemberFlags.decode("0") == MemberFlags.NONE
    with pytest.raises(ValueError):
        MemberFlags.decode("9")
    with pytest.raises(ValueError):
        MemberFlags.decode("")


def test_invisible_members_are_seen_only_by_staff_and_themselves():
    inv = MemberFlags.INVISIBLE
    assert may_see(viewer_is_staff=False, viewer_user="a", subject_user="b", subject_flags=NONE)
    assert not may_see(viewer_is_staff=False, viewer_user="a", subject_user="b", subject_flags=inv)
    assert may_see(viewer_is_staff=True, viewer_user="m", subject_user="b", subject_flags=inv)
    assert may_see(viewer_is_staff=False, viewer_user="b", subject_user="b", subject_flags=inv)


def test_counts_view_hides_invisible_staff_from_members_but_not_from_staff():
    counts = Counts(clients=12, users=10, visible=8, staff=2, staff_visible=1, hosts=1, hosts_visible=0)
    member = counts_view(counts, viewer_is_staff=False)
    assert (member.users, member.clients, member.moderators, member.hosts) == (10, 12, 1, 0)
    assert member.invisible is None and member.host_online is False
    assert "invisible" not in member.to_dict()
    staff = counts_view(counts, viewer_is_staff=True)
    assert (staff.moderators, staff.hosts, staff.invisible, staff.host_online) == (2, 1, 2, True)
    assert staff.to_dict()["invisible"] == 2


def test_counts_from_fields_tolerates_missing_and_negative():
    assert Counts.from_fields({"users": 3, "clients": 4}) == Counts(clients=4, users=3)
    assert Counts.from_fields({"users": -1}).users == 0


def test_online_member_dict_shows_invisible_flag_only_when_asked():
    m = OnlineMember("u", "U", "member", MemberFlags.INVISIBLE)
    assert m.to_dict(show_invisible=False) == {"user": "u", "name": "U", "role": "member"}
    assert m.to_dict(show_invisible=True)["invisible"] is True


def test_sort_members_puts_staff_and_hosts_first():
    ms = [
        OnlineMember("z", "zed", "member", NONE),
        OnlineMember("h", "Dr H", "host", MemberFlags.HOST),
        OnlineMember("a", "amy", "member", NONE),
        OnlineMember("m", "mod", "moderator", MemberFlags.STAFF),
    ]
    assert [m.user for m in sort_members(ms)] == ["m", "h", "a", "z"]


# ---------------------------------------------------------------------- push mode and threshold


def test_push_mode_switches_to_counts_above_threshold():
    assert push_mode(join_leave=False, users_online=1, threshold=200) is PushMode.OFF
    assert push_mode(join_leave=True, users_online=200, threshold=200) is PushMode.MEMBERS
    assert push_mode(join_leave=True, users_online=201, threshold=200) is PushMode.COUNTS


def test_counts_due_above_threshold_and_when_dropping_back():
    assert not counts_due(join_leave=True, users_before=1, users_after=2, threshold=2)
    assert counts_due(join_leave=True, users_before=2, users_after=3, threshold=2)
    assert counts_due(join_leave=True, users_before=3, users_after=2, threshold=2)
    assert not counts_due(join_leave=False, users_before=3, users_after=4, threshold=2)


def test_room_threshold_reads_room_extra():
    assert room_threshold(200, {}) == 200
    assert room_threshold(200, {"presence_threshold": 3}) == 3
    assert room_threshold(200, {"presence_threshold": "3"}) == 200
    assert room_threshold(200, {"presence_threshold": True}) == 200
    assert room_threshold(200, {"presence_threshold": -1}) == 200


# ---------------------------------------------------------------------- coalescing per user


def test_second_tab_does_not_join_again_and_last_tab_leaves_once():
    s = RoomPresence()
    s, ev = joined(s, "n1", "c1", "alice")
    assert ev == [MemberJoined("alice", "c1")]
    s, ev = joined(s, "n2", "c2", "alice")  # a second device, another process
    assert ev == []
    assert s.counts() == Counts(clients=2, users=1, visible=1)
    s, ev = s.leave("c1", rules=RULES)
    assert ev == [] and s.online("alice")
    s, ev = s.leave("c2", rules=RULES)
    assert ev == [MemberLeft("alice", "c2")]
    assert s.counts() == Counts()
    assert s.deadlines == {}


def test_joining_twice_with_one_client_changes_nothing_and_unknown_leave_is_ignored():
    s, _ = joined(RoomPresence(), "n1", "c1", "alice")
    again, ev = joined(s, "n1", "c1", "alice")
    assert again is s and ev == []
    same, ev = s.leave("nope", rules=RULES)
    assert same is s and ev == []


def test_no_events_when_room_does_not_push():
    quiet = RoomRules(join_leave=False, threshold=200)
    s, ev = joined(RoomPresence(), "n1", "c1", "alice", rules=quiet)
    assert ev == []
    s, ev = s.leave("c1", rules=quiet)
    assert ev == []


def test_above_threshold_only_counts_are_due():
    rules = RoomRules(join_leave=True, threshold=2)
    s = RoomPresence()
    events = []
    for i in range(4):
        s, ev = joined(s, "n1", f"c{i}", f"u{i}", rules=rules)
        events.append(ev)
    assert events[0] == [MemberJoined("u0", "c0")]
    assert events[1] == [MemberJoined("u1", "c1")]
    assert events[2] == [CountsDue()]
    assert events[3] == [CountsDue()]
    s, ev = s.leave("c3", rules=rules)
    assert ev == [CountsDue()]
    s, ev = s.leave("c2", rules=rules)  # back to 2: the leave shows, and one more count event
    assert ev == [MemberLeft("u2", "c2"), CountsDue()]
    s, ev = s.leave("c1", rules=rules)
    assert ev == [MemberLeft("u1", "c1")]


def test_flags_of_first_connection_count_until_the_user_leaves():
    s, _ = joined(RoomPresence(), "n1", "c1", "mod", MemberFlags.STAFF | MemberFlags.INVISIBLE)
    s, _ = joined(s, "n1", "c2", "mod", MemberFlags.STAFF)
    assert s.counts() == Counts(clients=2, users=1, visible=0, staff=1, staff_visible=0)
    s, _ = joined(s, "n1", "c3", "host", MemberFlags.HOST)
    assert s.counts().hosts == 1 and s.counts().hosts_visible == 1


# ---------------------------------------------------------------------- dead processes


def test_sweep_removes_expired_nodes_and_announces_each_leave_once():
    s = RoomPresence()
    s, _ = joined(s, "dead", "c1", "alice", deadline=10.0)
    s, _ = joined(s, "dead", "c2", "alice", deadline=10.0)
    s, _ = joined(s, "dead", "c3", "bob", deadline=10.0)
    s, _ = joined(s, "live", "c4", "bob", deadline=10.0)
    s, _ = joined(s, "live", "c5", "carol", deadline=10.0)
    s = s.beat("live", 30.0)
    s2, ev = s.sweep(20.0, rules=RULES)
    assert ev == [MemberLeft("alice", "c2")]  # bob is still online through "live"
    assert s2.counts() == Counts(clients=2, users=2, visible=2)
    assert "dead" not in s2.deadlines and "live" in s2.deadlines
    s3, ev = s2.sweep(20.0, rules=RULES)
    assert ev == [] and s3 == s2  # a second sweep announces nothing


def test_forced_sweep_removes_a_node_known_dead_elsewhere():
    s, _ = joined(RoomPresence(), "n1", "c1", "alice", deadline=100.0)
    s, ev = s.sweep(5.0, rules=RULES, forced=["n1"])
    assert ev == [MemberLeft("alice", "c1")] and s.counts() == Counts()


def test_beat_only_for_nodes_with_entries():
    s = RoomPresence().beat("n1", 50.0)
    assert s.deadlines == {}
    s, _ = joined(s, "n1", "c1", "a", deadline=10.0)
    assert s.beat("n1", 50.0).deadlines == {"n1": 50.0}


def test_liveness_bounds_drop_out_within_ttl():
    live = Liveness(30)
    assert live.deadline(100.0) == 129.0
    worst_beat = live.beat_interval(0.999)
    assert worst_beat < live.window / 2  # a live node beats at least twice per window
    assert live.window + live.sweep_interval(0.999) <= live.ttl
    assert live.is_dead(129.0, 129.5) and not live.is_dead(129.0, 128.0)
    assert live.keys_ttl > live.ttl


# ---------------------------------------------------------------------- typing


def test_typing_rate_limit_and_expiry():
    policy = TypingPolicy(interval=2.0, expiry=6.0)
    d = decide_typing(TypingSlot(), 100.0, policy)
    assert d.send and d.expires_at == 106.0
    slot = d.slot
    assert slot.typing(105.9) and not slot.typing(106.0)
    early = decide_typing(slot, 101.5, policy)
    assert not early.send and early.retry_in == pytest.approx(0.5) and early.slot == slot
    later = decide_typing(slot, 102.0, policy)
    assert later.send and later.expires_at == 108.0


def test_typing_stop_keeps_the_rate_limit():
    policy = TypingPolicy(interval=2.0, expiry=6.0)
    slot = decide_typing(TypingSlot(), 100.0, policy).slot
    showing, stopped = typing_stopped(slot, 100.5)
    assert showing and not stopped.typing(100.5)
    assert not decide_typing(stopped, 101.0, policy).send  # stop/start cannot flood
    assert not typing_stopped(stopped, 101.0)[0]


def test_typing_slot_becomes_stale_after_expiry():
    policy = TypingPolicy(interval=2.0, expiry=6.0)
    slot = decide_typing(TypingSlot(), 100.0, policy).slot
    assert not typing_stale(slot, 103.0, policy)
    assert typing_stale(slot, 106.0, policy)
    assert typing_stale(TypingSlot(), 0.0, policy)


def test_typing_policy_rejects_nonsense():
    with pytest.raises(ValueError):
        TypingPolicy(interval=0, expiry=5)
    with pytest.raises(ValueError):
        TypingPolicy(interval=5, expiry=2)
