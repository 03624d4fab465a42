"""Table chat's rules, pure: who may say what, how often, and what a hand's record keeps.

The table's session (`holdem.session.table_session.TableSession`) hands each ``chat`` command
to its `TableChat` with the sender's place at the table and the time; the chat cleans the
text, checks the rules, masks the operator's blocked words and returns the line every viewer
of the table gets. What the table servers do around it (docs/protocol.md, "Table chat"):
an operator's mute is checked before the command reaches the table, and a player's own mute
list is applied where lines are delivered, per connection.

The text is plain: nothing here or anywhere downstream interprets markup, and clients must
render it as text. A line carries no game state: only who said it (user, seat), when, and the
cleaned text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from holdem.protocol.errors import (
    ChatDisabled,
    ChatNotAllowed,
    ChatOffInHand,
    ChatRateLimited,
    ChatTooLong,
    InvalidMessage,
)

__all__ = ["ChatRules", "TableChat", "clean_text", "mask_words"]


@dataclass(frozen=True)
class ChatRules:
    """The operator's chat settings (`holdem.config.ChatSettings`, same names)."""

    enabled: bool = True
    spectators_may_chat: bool = False
    off_in_hand: bool = False
    max_length: int = 200
    lines_per_window: int = 5
    window_s: float = 10.0
    blocked_words: tuple[str, ...] = ()
    lines_kept_per_hand: int = 200


_INVISIBLE = frozenset(["Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"])
"""Control, format (bidirectional overrides, zero-width characters), private-use, surrogate,
unassigned, line and paragraph separators: nothing a line needs, some able to disguise one."""


_RECENT_USERS_KEPT = 64
"""Past this many users in the rate limit's map, those quiet for a window are dropped."""


def clean_text(text: str) -> str:
    """The text as a line: characters that are not visible text removed (controls, format
    characters such as right-to-left overrides), every run of whitespace one space, trimmed.

    >>> clean_text("  nice\\n\\thand\\u202e!  ")
    'nice hand!'
    """
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE or ch in "\t\n")
    return " ".join(kept.split())


def _word_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    cleaned = sorted({w.strip().casefold() for w in words if w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, cleaned)) + r")(?!\w)", re.I)


def mask_words(text: str, words: Iterable[str]) -> str:
    """Each blocked word (a whole word, any case) replaced by as many ``*``.

    >>> mask_words("Darn it, DARN!", ["darn"])
    '**** it, ****!'
    >>> mask_words("darnation", ["darn"])
    'darnation'
    """
    pattern = _word_pattern(words)
    return text if pattern is None else pattern.sub(_stars, text)


class TableChat:
    """One table's chat: the rules, each user's recent lines (for the rate limit) and the lines
    said since the last hand ended (kept with the next hand's record).

    >>> chat = TableChat(ChatRules(lines_per_window=1, window_s=10.0))
    >>> chat.say(7, seat=2, dealt_in=False, text="gl all", now=100.0)["text"]
    'gl all'
    >>> chat.say(7, seat=2, dealt_in=False, text="again", now=105.0)
    Traceback (most recent call last):
    ...
    holdem.protocol.errors.ChatRateLimited: one line per 10 s; wait 5.0 s
    """

    def __init__(self, rules: ChatRules) -> None:
        self.rules = rules
        self._blocked = _word_pattern(rules.blocked_words)
        self.recent: dict[int, list[float]] = {}
        """Each user's line times within the window (not checkpointed: a takeover forgets
        them, which at worst lets a user say one window's lines twice)."""
        self.lines: list[dict[str, Any]] = []
        """The lines said since the last hand ended (checkpointed), oldest first."""

    def say(
        self, user: int, *, seat: int | None, dealt_in: bool, text: str, now: float
    ) -> dict[str, Any]:
        """The line `user` says, as it is delivered (``user_id``, ``seat``, ``text``, ``at``).

        Args:
            user: The sender.
            seat: Their seat at this table (None: a spectator).
            dealt_in: Whether they hold cards in the hand running.
            text: What they typed.
            now: The table's time (epoch seconds); the rate limit counts in it.

        Raises:
            ProtocolError: the line is refused (`ChatDisabled`, `ChatNotAllowed`,
                `ChatOffInHand`, `InvalidMessage` for an empty line, `ChatTooLong`,
                `ChatRateLimited`); nothing is counted.
        """
        rules = self.rules
        if not rules.enabled:
            raise ChatDisabled("chat is off at this table")
        if seat is None and not rules.spectators_may_chat:
            raise ChatNotAllowed("spectators may not chat at this table")
        if dealt_in and rules.off_in_hand:
            raise ChatOffInHand("no chat while your hand is running")
        line = clean_text(text)
        if not line:
            raise InvalidMessage("the line has no text")
        if len(line) > rules.max_length:
            raise ChatTooLong(f"a line is at most {rules.max_length} characters")
        times = [t for t in self.recent.get(user, []) if t > now - rules.window_s]
        if len(times) >= rules.lines_per_window:
            wait = times[0] + rules.window_s - now
            per = rules.lines_per_window
            raise ChatRateLimited(
                f"{'one line' if per == 1 else f'{per} lines'} per {rules.window_s:g} s;"
                f" wait {wait:.1f} s",
            )
        times.append(now)
        self.recent[user] = times
        if len(self.recent) > _RECENT_USERS_KEPT:
            self._forget_quiet(now)
        shown = line if self._blocked is None else self._blocked.sub(_stars, line)
        said = {"user_id": user, "seat": seat, "text": shown, "at": now}
        kept = said if shown == line else {**said, "original": line}
        if rules.lines_kept_per_hand:
            self.lines.append(kept)
            del self.lines[: -rules.lines_kept_per_hand]
        return said

    def _forget_quiet(self, now: float) -> None:
        """Drop the users with no line in the window (the map stays as small as the talk)."""
        since = now - self.rules.window_s
        self.recent = {u: t for u, t in self.recent.items() if t[-1] > since}

    def take_lines(self) -> list[dict[str, Any]]:
        """The lines for the hand that just ended (and forget them): each as delivered, plus
        ``original`` when a blocked word was masked (for the operator settling a dispute)."""
        lines, self.lines = self.lines, []
        return lines

    def to_wire(self) -> list[dict[str, Any]]:
        return list(self.lines)

    def restore(self, lines: Iterable[Mapping[str, Any]]) -> None:
        """Take back the lines a checkpoint kept."""
        self.lines = [dict(line) for line in lines]


def _stars(match: re.Match[str]) -> str:
    return "*" * len(match.group())
