"""Unit tests of the pure Q&A domain (rooms.qa): no server, no Redis, ``now`` passed in."""

from __future__ import annotations

import orjson
import pytest

from rooms.model import Role
from rooms.policy import Denied
from rooms.qa import (
    ANSWER_NOTICE,
    Actor,
    AnswerQuestion,
    AskQuestion,
    Board,
    CastVote,
    CreateSession,
    Decision,
    DismissQuestion,
    EndSession,
    MarkAnswered,
    MarkAnswering,
    Person,
    PinQuestion,
    QuestionState,
    ReopenQuestion,
    ScreenQuestion,
    SessionState,
    SetStage,
    Settings,
    StartSession,
    WithdrawVote,
    apply_vote,
    create_session,
    decide,
    may_post_in_stage,
    may_trace,
)
from rooms.qa.events import QuestionDismissed, QuestionPublished, QuestionSubmitted
from rooms.qa.views import (
    Audience,
    Order,
    event_views,
    sort_questions,
    transcript,
    transcript_markdown,
)

HOST = Actor("dr-lee", "Dr Lee", Role.HOST)
OTHER_HOST = Actor("dr-ng", "Dr Ng", Role.HOST)
MOD = Actor("mod", "Mo", Role.MODERATOR)
ADMIN = Actor("adm", "Ad", Role.ADMIN)
ANN = Actor("u-annika", "Annika", Role.MEMBER)
BEN = Actor("ben", "Ben", Role.MEMBER)
SETTINGS = Settings(question_interval=60)


def ok(result: Decision | Denied) -> Decision:
    assert isinstance(result, Decision), result
    return result


def denied(result: object, code: int) -> Denied:
    assert isinstance(result, Denied), result
    assert result.code == code, result
    return result


def new_board(premoderation: bool = True, now: float = 1000.0) -> Board:
    cmd = CreateSession(HOST, "s1", "ms", "evening", "Ask a neurologist", premoderation=premoderation)
    return ok(create_session(cmd, SETTINGS, now)).board


def live_board(premoderation: bool = True) -> Board:
    return ok(decide(new_board(premoderation), StartSession(HOST), SETTINGS, 1010.0)).board


def ask(board: Board, actor: Actor, qid: str, now: float, anonymous: bool = False, text: str = "What helps fatigue?") -> Board:
    return ok(decide(board, AskQuestion(actor, qid, text, anonymous), SETTINGS, now)).board


# ---------------------------------------------------------------- sessions


def test_create_by_host_adds_the_host_and_members_cannot_create():
    d = ok(create_session(CreateSession(HOST, "s1", "ms", "r", "  Title  "), SETTINGS, 5.0))
    s = d.board.session
    assert s.hosts == (Person("dr-lee", "Dr Lee"),) and s.title == "Title"
    assert s.state is SessionState.SCHEDULED and s.version == 1 and s.premoderation is True
    assert s.question_interval == 60
    denied(create_session(CreateSession(ANN, "s1", "ms", "r", "T"), SETTINGS, 5.0), 103)
    denied(create_session(CreateSession(MOD, "s1", "ms", "r", "T"), SETTINGS, 5.0), 107)  # no host
    d = ok(create_session(CreateSession(MOD, "s1", "ms", "r", "T", hosts=(Person("dr-x", "Dr X"),), cohosts=(Person("mod", "Mo"),)), SETTINGS, 5.0))
    assert d.board.session.cohosts == (Person("mod", "Mo"),)
    denied(create_session(CreateSession(HOST, "s1", "ms", "r", ""), SETTINGS, 5.0), 107)
    denied(create_session(CreateSession(HOST, "s1", "ms", "r", "T", question_interval=-1), SETTINGS, 5.0), 107)


def test_lifecycle_scheduled_live_ended_and_who_may_run_it():
    board = new_board()
    denied(decide(board, StartSession(ANN), SETTINGS, 1.0), 103)
    denied(decide(board, StartSession(OTHER_HOST), SETTINGS, 1.0), 103)  # not this session's host
    d = ok(decide(board, StartSession(MOD), SETTINGS, 1010.0))  # moderators co-host
    assert d.board.session.state is SessionState.LIVE and d.board.live_session == "s1"
    assert d.board.session.version == 2 and d.board.session.started_at == 1010.0
    assert not ok(decide(d.board, StartSession(HOST), SETTINGS, 1011.0)).changed  # idempotent
    ended = ok(decide(d.board, EndSession(HOST), SETTINGS, 2000.0))
    assert ended.board.session.state is SessionState.ENDED and ended.board.live_session is None
    denied(decide(ended.board, StartSession(HOST), SETTINGS, 2001.0), 1102)
    assert not ok(decide(ended.board, EndSession(HOST), SETTINGS, 2001.0)).changed


def test_only_one_live_session_per_room():
    board = Board(new_board().session, live_session="other")
    d = denied(decide(board, StartSession(HOST), SETTINGS, 1.0), 1102)
    assert "other" in d.reason


def test_stage_mode_only_while_live_and_off_at_end():
    board = new_board()
    denied(decide(board, SetStage(HOST, True), SETTINGS, 1.0), 1102)
    board = live_board()
    denied(decide(board, SetStage(ANN, True), SETTINGS, 1.0), 103)
    on = ok(decide(board, SetStage(HOST, True), SETTINGS, 1020.0))
    assert on.board.session.stage is True
    assert not ok(decide(on.board, SetStage(HOST, True), SETTINGS, 1021.0)).changed
    ended = ok(decide(on.board, EndSession(HOST), SETTINGS, 1030.0)).board
    assert ended.session.stage is False
    assert may_post_in_stage(Role.HOST) and may_post_in_stage(Role.MODERATOR) and may_post_in_stage(Role.ADMIN)
    assert not may_post_in_stage(Role.MEMBER)


# ---------------------------------------------------------------- questions


def test_premoderated_question_waits_in_screening_then_publish_or_dismiss():
    board = live_board()
    d = ok(decide(board, AskQuestion(ANN, "q1", "  Is heat bad for MS?  "), SETTINGS, 1100.0))
    q = d.board.questions["q1"]
    assert q.state is QuestionState.SCREENING and q.text == "Is heat bad for MS?" and q.number == 1
    assert isinstance(d.events[0], QuestionSubmitted)
    assert [a for a, _ in event_views(d.events[0])] == [Audience.SCREENING]
    denied(decide(d.board, ScreenQuestion(ANN, "q1", True), SETTINGS, 1101.0), 103)
    pub = ok(decide(d.board, ScreenQuestion(HOST, "q1", True), SETTINGS, 1101.0))
    assert pub.board.questions["q1"].state is QuestionState.PUBLISHED
    assert isinstance(pub.events[0], QuestionPublished) and pub.events[0].screened
    audiences = [a for a, _ in event_views(pub.events[0])]
    assert audiences == [Audience.BOARD, Audience.SCREENING]
    assert not ok(decide(pub.board, ScreenQuestion(MOD, "q1", True), SETTINGS, 1102.0)).changed
    denied(decide(pub.board, ScreenQuestion(MOD, "q1", False), SETTINGS, 1102.0), 1102)
    dis = ok(decide(d.board, ScreenQuestion(MOD, "q1", False), SETTINGS, 1101.0))
    assert dis.board.questions["q1"].state is QuestionState.DISMISSED
    ev = dis.events[0]
    assert isinstance(ev, QuestionDismissed) and not ev.was_public
    views = event_views(ev)
    assert [a for a, _ in views] == [Audience.SCREENING] and views[0][1]["decision"] == "dismissed"


def test_without_premoderation_questions_go_straight_to_the_board():
    board = live_board(premoderation=False)
    d = ok(decide(board, AskQuestion(ANN, "q1", "hi"), SETTINGS, 1100.0))
    assert d.board.questions["q1"].state is QuestionState.PUBLISHED
    assert [a for a, _ in event_views(d.events[0])] == [Audience.BOARD]


def test_one_question_per_interval_per_member():
    board = live_board()
    board = ask(board, ANN, "q1", 1100.0)
    d = denied(decide(board, AskQuestion(ANN, "q2", "again"), SETTINGS, 1130.0), 1101)
    assert "30 s" in d.reason
    board = ask(board, BEN, "q2", 1130.0)  # another member is not limited by Ann
    board = ask(board, ANN, "q3", 1160.0)  # the interval has passed
    assert [q.number for q in board.questions.values()] == [1, 2, 3]
    board = ask(board, MOD, "q4", 1161.0)
    board = ask(board, MOD, "q5", 1162.0)  # staff are not limited
    denied(decide(board, AskQuestion(BEN, "q6", "x" * 1001), SETTINGS, 5000.0), 107)
    denied(decide(board, AskQuestion(BEN, "q6", "   "), SETTINGS, 5000.0), 107)
    denied(decide(board, AskQuestion(BEN, "q1", "dup id"), SETTINGS, 5000.0), 1102)


def test_a_question_approved_from_the_hold_queue_skips_screening_and_the_interval():
    board = ask(live_board(), ANN, "q1", 1100.0)
    d = ok(decide(board, AskQuestion(ANN, "q2", "held then approved", reviewed=True), SETTINGS, 1101.0))
    q = d.board.questions["q2"]
    assert q.state is QuestionState.PUBLISHED and q.published_at == 1101.0
    assert isinstance(d.events[0], QuestionPublished)


def test_questions_before_start_but_not_after_end():
    board = new_board()
    board = ask(board, ANN, "q1", 1001.0)
    assert board.questions["q1"].state is QuestionState.SCREENING
    ended = ok(decide(board, EndSession(HOST), SETTINGS, 1002.0)).board
    denied(decide(ended, AskQuestion(BEN, "q2", "late"), SETTINGS, 1003.0), 1102)


def published(board: Board, *qids: str, actor: Actor = MOD) -> Board:
    for qid in qids:
        board = ok(decide(board, ScreenQuestion(actor, qid, True), SETTINGS, 1200.0)).board
    return board


def test_answering_one_at_a_time_answer_carries_the_notice():
    board = live_board()
    board = ask(ask(board, ANN, "q1", 1100.0), BEN, "q2", 1101.0)
    denied(decide(board, MarkAnswering(HOST, "q1"), SETTINGS, 1102.0), 1102)  # still screening
    board = published(board, "q1", "q2")
    first = ok(decide(board, MarkAnswering(HOST, "q1"), SETTINGS, 1300.0))
    assert first.board.session.answering == "q1"
    second = ok(decide(first.board, MarkAnswering(HOST, "q2"), SETTINGS, 1310.0))
    assert second.board.session.answering == "q2"
    assert second.board.questions["q1"].state is QuestionState.PUBLISHED
    assert second.events[0].previous.id == "q1"  # type: ignore[union-attr]
    body = event_views(second.events[0])[0][1]
    assert body["type"] == "qa.question.answering" and body["previous"]["state"] == "published"
    denied(decide(second.board, AnswerQuestion(ANN, "q2", "x"), SETTINGS, 1320.0), 103)
    ans = ok(decide(second.board, AnswerQuestion(HOST, "q2", "Cooling vests help."), SETTINGS, 1320.0))
    q2 = ans.board.questions["q2"]
    assert q2.state is QuestionState.ANSWERED and q2.answer is not None
    assert q2.answer.notice == ANSWER_NOTICE == "General information, not medical advice."
    assert q2.answer.by == Person("dr-lee", "Dr Lee")
    assert ans.board.session.answering is None
    view = event_views(ans.events[0])[0][1]
    assert view["question"]["answer"]["notice"] == ANSWER_NOTICE
    assert view["question"]["answer"]["by"]["badge"] == "verified_professional"


def test_mark_answered_dismiss_pin_reopen():
    board = published(ask(live_board(), ANN, "q1", 1100.0), "q1")
    board = ok(decide(board, MarkAnswering(HOST, "q1"), SETTINGS, 1300.0)).board
    done = ok(decide(board, MarkAnswered(HOST, "q1"), SETTINGS, 1301.0)).board
    assert done.questions["q1"].state is QuestionState.ANSWERED and done.session.answering is None
    pinned = ok(decide(done, PinQuestion(HOST, "q1", True), SETTINGS, 1302.0)).board
    assert pinned.questions["q1"].pinned
    assert not ok(decide(pinned, PinQuestion(HOST, "q1", True), SETTINGS, 1303.0)).changed
    reopened = ok(decide(pinned, ReopenQuestion(MOD, "q1"), SETTINGS, 1304.0))
    assert reopened.board.questions["q1"].state is QuestionState.PUBLISHED
    gone = ok(decide(reopened.board, DismissQuestion(HOST, "q1"), SETTINGS, 1305.0))
    ev = gone.events[0]
    assert isinstance(ev, QuestionDismissed) and ev.was_public
    assert [a for a, _ in event_views(ev)] == [Audience.BOARD]
    denied(decide(gone.board, PinQuestion(HOST, "q1", True), SETTINGS, 1306.0), 1102)
    back = ok(decide(gone.board, ReopenQuestion(HOST, "q1"), SETTINGS, 1307.0)).board
    assert back.questions["q1"].state is QuestionState.PUBLISHED
    denied(decide(back, DismissQuestion(ANN, "q1"), SETTINGS, 1308.0), 103)
    denied(decide(back, DismissQuestion(HOST, "nope"), SETTINGS, 1308.0), 107)


def test_end_returns_the_answering_question_to_the_board():
    board = published(ask(live_board(), ANN, "q1", 1100.0), "q1")
    board = ok(decide(board, MarkAnswering(HOST, "q1"), SETTINGS, 1300.0)).board
    end = ok(decide(board, EndSession(HOST), SETTINGS, 1400.0))
    assert end.board.questions["q1"].state is QuestionState.PUBLISHED
    assert [type(e).__name__ for e in end.events] == ["QuestionReopened", "SessionEnded"]


def test_every_change_bumps_the_version():
    board = live_board()
    versions = [board.session.version]
    for cmd in (AskQuestion(ANN, "q1", "a"), ScreenQuestion(MOD, "q1", True), PinQuestion(HOST, "q1"), MarkAnswering(HOST, "q1")):
        board = ok(decide(board, cmd, SETTINGS, 1500.0)).board
        versions.append(board.session.version)
    assert versions == sorted(set(versions)) and len(versions) == 5


# ---------------------------------------------------------------- votes


def test_one_vote_per_member_withdrawable_only_while_open():
    board = published(ask(live_board(), ANN, "q1", 1100.0), "q1")
    voters: frozenset[str] = frozenset()
    d = apply_vote(board, voters, CastVote(BEN, "q1"), 1.0)
    assert not isinstance(d, Denied) and d.voters == {"ben"} and d.board.questions["q1"].votes == 1
    again = apply_vote(d.board, d.voters, CastVote(BEN, "q1"), 2.0)
    assert not isinstance(again, Denied) and again.events == () and again.voters == {"ben"}
    d2 = apply_vote(d.board, d.voters, CastVote(ANN, "q1"), 3.0)
    assert not isinstance(d2, Denied) and d2.events[0].votes == 2
    w = apply_vote(d2.board, d2.voters, WithdrawVote(BEN, "q1"), 4.0)
    assert not isinstance(w, Denied) and w.voters == {"u-annika"} and w.events[0].votes == 1
    w2 = apply_vote(w.board, w.voters, WithdrawVote(BEN, "q1"), 5.0)
    assert not isinstance(w2, Denied) and w2.events == ()
    screening = ask(board, BEN, "q2", 1200.0)
    denied(apply_vote(screening, frozenset(), CastVote(ANN, "q2"), 6.0), 1102)
    answered = ok(decide(board, MarkAnswered(HOST, "q1"), SETTINGS, 7.0)).board
    denied(apply_vote(answered, frozenset(), CastVote(ANN, "q1"), 8.0), 1102)
    denied(apply_vote(board, frozenset(), CastVote(ANN, "zz"), 8.0), 107)


def test_sort_popular_and_recent():
    board = live_board(premoderation=False)
    for i, actor in enumerate((ANN, BEN, Actor("cy", "Cy", Role.MEMBER), Actor("di", "Di", Role.MEMBER))):
        board = ask(board, actor, f"q{i + 1}", 1100.0 + i)
    votes = {"q1": 1, "q2": 5, "q3": 5, "q4": 0}
    qs = list(board.questions.values())
    assert [q.id for q in sort_questions(qs, Order.POPULAR, votes)] == ["q2", "q3", "q1", "q4"]
    assert [q.id for q in sort_questions(qs, Order.RECENT, votes)] == ["q4", "q3", "q2", "q1"]
    board = ok(decide(board, PinQuestion(HOST, "q4"), SETTINGS, 1200.0)).board
    board = ok(decide(board, MarkAnswering(HOST, "q1"), SETTINGS, 1201.0)).board
    qs = list(board.questions.values())
    assert [q.id for q in sort_questions(qs, Order.POPULAR, votes)] == ["q1", "q4", "q2", "q3"]


# ---------------------------------------------------------------- anonymity and transcript


def test_anonymous_question_names_nobody_anywhere_but_trace():
    board = live_board()
    d = ok(decide(board, AskQuestion(ANN, "q1", "A private worry", anonymous=True), SETTINGS, 1100.0))
    board = d.board
    events = list(d.events)
    for cmd in (ScreenQuestion(MOD, "q1", True), PinQuestion(HOST, "q1"), MarkAnswering(HOST, "q1"), AnswerQuestion(HOST, "q1", "An answer")):
        step = ok(decide(board, cmd, SETTINGS, 1200.0))
        board = step.board
        events.extend(step.events)
    raw = b"".join(orjson.dumps(body) for e in events for _, body in event_views(e))
    assert b"u-annika" not in raw and b"Annika" not in raw
    tr = transcript(board.session, board.questions.values(), {"q1": 3})
    assert b"annika" not in orjson.dumps(tr).lower()
    assert tr["questions"][0]["votes"] == 3 and tr["questions"][0]["answer"]["notice"] == ANSWER_NOTICE
    denied(may_trace(HOST), 103)
    denied(may_trace(ANN), 103)
    assert may_trace(MOD) is None and may_trace(ADMIN) is None


def test_named_question_shows_the_asker_on_the_board_but_not_in_the_transcript():
    board = published(ask(live_board(), BEN, "q1", 1100.0, text="Named one"), "q1")
    ask_event = event_views(ok(decide(live_board(premoderation=False), AskQuestion(BEN, "q1", "x"), SETTINGS, 1.0)).events[0])
    assert ask_event[0][1]["question"]["asker"] == {"user": "ben", "name": "Ben"}
    board = ask(board, ANN, "q2", 1101.0)  # still in screening: not in the transcript
    tr = transcript(board.session, board.questions.values(), {})
    assert [q["number"] for q in tr["questions"]] == [1]
    assert "asker" not in tr["questions"][0]
    md = transcript_markdown(tr)
    assert "# Q&A: Ask a neurologist" in md and "Named one" in md and "Ben" not in md
    assert "Dr Lee (verified professional)" in md


@pytest.mark.parametrize("bad", [-1.0, 90000.0])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError):
        Settings(question_interval=bad)


def test_qa_config_section_is_checked():
    from chatserver.config import ConfigError
    from chatserver.qa.config import QaConfig

    cfg = QaConfig.from_section({"question_interval": 30, "premoderation": False, "vote_batch_ms": 100, "retention_days": 2})
    assert cfg.rules.question_interval == 30 and cfg.rules.premoderation is False
    assert cfg.vote_batch_ms == 100 and cfg.retention == 2 * 24 * 3600
    assert QaConfig.from_section(None).rules == Settings()
    for bad in ({"question_intervall": 3}, {"premoderation": "yes"}, {"max_questions": True}, {"vote_batch_ms": 1}, {"question_interval": -5}):
        with pytest.raises(ConfigError):
            QaConfig.from_section(bad)
