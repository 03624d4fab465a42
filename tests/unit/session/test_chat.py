"""Table chat's rules (`holdem.session.chat`) and the session's hooks: who may chat, limits,
the rate limit in the table's own time, the word filter, the in-hand rule, and the lines kept
with the hand (never with its events)."""

from __future__ import annotations

import doctest

import msgpack
import pytest

from holdem.config import ChatSettings
from holdem.protocol.errors import (
    ChatDisabled,
    ChatNotAllowed,
    ChatOffInHand,
    ChatRateLimited,
    ChatTooLong,
    InvalidMessage,
)
from holdem.session import TableSession
from holdem.session import chat as chat_module
from holdem.session.chat import ChatRules, TableChat, clean_text, mask_words
from holdem.session.commands import Act, Join, Say, command_from_stream
from holdem.session.effects import Settle
from holdem.session.table_session import COMMAND_MAX_AGE_S
from tests.unit.session.test_table_session import TIMES, USERS, Harness, heads_up

T = 1_800_000_000.0


def say(chat: TableChat, text: str = "gl", *, user: int = 7, now: float = T, **place: object):
    where = {"seat": 1, "dealt_in": False, **place}
    return chat.say(user, text=text, now=now, **where)  # type: ignore[arg-type]


# ------------------------------------------------------------------ text


def test_the_examples_in_the_modules_docstrings_run():
    result = doctest.testmod(chat_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_control_and_format_characters_are_removed_and_whitespace_collapsed():
    # A right-to-left override or a zero-width joiner could make a line read as something
    # else; a newline could fake a second line from another player.
    assert clean_text("hi\u202e there\u200d\n[dealer]: you win\x07") == "hi there [dealer]: you win"
    assert clean_text("\x00\u2028 \t") == ""


def test_text_is_relayed_as_typed_markup_and_all():
    # Nothing interprets markup: clients render the text as text.
    assert say(TableChat(ChatRules()), "<b>nh</b> &amp;")["text"] == "<b>nh</b> &amp;"


def test_blocked_words_are_masked_as_whole_words_in_any_case():
    assert mask_words("Darn, DARN it; darnation", ["darn"]) == "****, **** it; darnation"
    assert mask_words("a b", []) == "a b"
    chat = TableChat(ChatRules(blocked_words=("darn", "heck off")))
    line = say(chat, "oh HECK OFF, darn")
    assert line["text"] == "oh ********, ****"
    # The record for disputes keeps what was typed too.
    assert chat.take_lines() == [{**line, "original": "oh HECK OFF, darn"}]


# ------------------------------------------------------------------ who, how long, how often


def test_a_line_carries_who_said_it_when_and_the_text_only():
    assert say(TableChat(ChatRules()), " nice hand ", seat=3) == {
        "user_id": 7,
        "seat": 3,
        "text": "nice hand",
        "at": T,
    }


def test_the_length_limit_counts_visible_characters():
    chat = TableChat(ChatRules(max_length=10))
    assert say(chat, "0123456789" + "\u200b" * 50)["text"] == "0123456789"
    with pytest.raises(ChatTooLong, match="at most 10"):
        say(chat, "01234567890")
    with pytest.raises(InvalidMessage):
        say(chat, "\u200b\n")


def test_the_rate_limit_counts_lines_per_user_in_the_tables_time():
    chat = TableChat(ChatRules(lines_per_window=3, window_s=10.0))
    for i in range(3):
        say(chat, now=T + i)
    with pytest.raises(ChatRateLimited, match=r"3 lines per 10 s; wait 1\.0 s"):
        say(chat, now=T + 9)
    say(chat, user=8, now=T + 9)  # another user has their own allowance
    say(chat, now=T + 10)  # the first line left the window
    with pytest.raises(ChatRateLimited):
        say(chat, now=T + 10.5)


def test_a_refused_line_is_not_counted_against_the_rate_limit():
    chat = TableChat(ChatRules(lines_per_window=1, max_length=5))
    with pytest.raises(ChatTooLong):
        say(chat, "too long")
    say(chat, "ok")


def test_spectators_read_only_unless_the_operator_lets_them_chat():
    with pytest.raises(ChatNotAllowed):
        say(TableChat(ChatRules()), seat=None)
    assert say(TableChat(ChatRules(spectators_may_chat=True)), seat=None)["seat"] is None


def test_chat_off_in_hand_silences_only_players_dealt_in():
    chat = TableChat(ChatRules(off_in_hand=True))
    with pytest.raises(ChatOffInHand):
        say(chat, dealt_in=True)
    say(chat, dealt_in=False)  # sitting this hand out, or between hands
    say(TableChat(ChatRules()), dealt_in=True)  # the default allows it


def test_chat_turned_off_refuses_every_line():
    with pytest.raises(ChatDisabled):
        say(TableChat(ChatRules(enabled=False)))


def test_the_lines_kept_for_a_hand_are_the_latest_ones():
    chat = TableChat(ChatRules(lines_kept_per_hand=2, lines_per_window=9))
    for word in ("a", "b", "c"):
        say(chat, word)
    assert [line["text"] for line in chat.take_lines()] == ["b", "c"]
    assert chat.take_lines() == []


# ------------------------------------------------------------------ in the table session


def chat_messages(published):
    return [p for p in published if p.message["type"] == "chat"]


def test_a_seated_players_line_is_answered_and_published_to_the_whole_table():
    harness = heads_up()
    command = harness.command(Say, USERS[0], text="gl hf")
    published = harness.apply(command)
    [answer] = [p for p in published if p.message.get("id") == command.rid]
    assert answer.message == {
        "type": "result",
        "id": command.rid,
        "table_id": 1,
        "ok": True,
        "text": "gl hf",
    }
    [line] = chat_messages(published)
    assert (line.user, line.conn) == (None, None)  # the table's channel: every viewer
    now = harness.session.now
    assert line.message == {
        "type": "chat",
        "table_id": 1,
        "user_id": USERS[0],
        "seat": 0,
        "text": "gl hf",
        "at": now,
    }


def test_a_spectator_is_refused_and_nothing_is_published():
    harness = heads_up()
    harness.apply(harness.command(Join, 99))
    command = harness.command(Say, 99, text="hello")
    published = harness.apply(command)
    assert [p.message["code"] for p in published] == ["chat_not_allowed"]
    assert published[0].conn == command.conn


def test_a_player_in_the_hand_is_refused_where_the_operator_forbids_it():
    harness = heads_up()
    harness.session.chat = TableChat(ChatRules(off_in_hand=True))
    [error] = harness.apply(harness.command(Say, USERS[0], text="you have nothing"))
    assert error.message["code"] == "chat_off_in_hand"


def test_a_stale_line_is_answered_stale():
    harness = heads_up()
    late = harness.now - COMMAND_MAX_AGE_S - 1
    [error] = harness.apply(harness.command(Say, USERS[0], text="hi", at=late))
    assert error.message["code"] == "stale_action"


def test_chat_does_not_push_money_answers_out_of_the_resend_memory():
    harness = heads_up()
    harness.session.chat = TableChat(ChatRules(lines_per_window=100))
    before = dict(harness.session.answers)
    for _ in range(20):
        harness.apply(harness.command(Say, USERS[0], text="hi"))
    assert harness.session.answers == before


def test_the_lines_go_with_the_hands_settlement_not_its_events_and_survive_a_takeover():
    harness = heads_up()
    harness.apply(harness.command(Say, USERS[0], text="gl"))
    # A takeover: the session rebuilt from its msgpack checkpoint keeps the lines.
    saved = msgpack.unpackb(msgpack.packb(harness.session.to_checkpoint()))
    assert [line["text"] for line in saved["rt"]["chat"]] == ["gl"]
    session = TableSession.from_checkpoint(1, saved, times=TIMES, fence=8, seeds=bytes)
    assert [line["text"] for line in session.chat.lines] == ["gl"]
    harness.session = session
    harness.apply(harness.command(Say, USERS[1], text="ty"))
    hand = session.table.hand
    assert hand is not None
    who = int(session.table.players[hand.to_act] or 0)
    harness.apply(harness.command(Act, who, hand=hand.number, seq=1, action="fold"))
    [settlement] = session.outbox
    assert [(line["user_id"], line["text"]) for line in settlement["chat"]] == [
        (USERS[0], "gl"),
        (USERS[1], "ty"),
    ]
    assert "gl" not in str(settlement["events"])
    assert session.chat.lines == []  # the next hand starts a new record
    settles = []
    harness.carry_out = lambda effects: settles.extend(  # type: ignore[method-assign]
        e for e in effects if isinstance(e, Settle)
    )
    harness.tick(0.0)
    assert settles[0].settlement["chat"] == settlement["chat"]


def test_the_stream_entry_of_a_chat_becomes_a_say_command():
    fields = {"kind": "chat", "text": "hi", "user": 7, "conn": "c", "rid": "r", "at": T}
    assert command_from_stream("1-0", fields) == Say(
        entry_id="1-0", at=T, user=7, conn="c", rid="r", text="hi"
    )


def test_a_harness_without_chat_still_checkpoints_as_before():
    # No line said: the checkpoint has no "chat" entry (servers of the previous version
    # read it unchanged).
    assert "chat" not in Harness().session.to_checkpoint()["rt"]


def test_the_rules_defaults_are_the_settings_defaults():
    settings = ChatSettings()
    fields = set(ChatRules.__dataclass_fields__)
    assert ChatRules(**settings.model_dump(include=fields)) == ChatRules()
    assert fields < set(settings.model_dump())


def test_the_rate_limit_forgets_users_whose_lines_left_the_window():
    chat = TableChat(ChatRules(lines_per_window=1, window_s=10.0))
    for user in range(1, 101):
        say(chat, user=user, now=T)
    say(chat, user=500, now=T + 11)
    assert list(chat.recent) == [500]
