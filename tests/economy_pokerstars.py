"""A parser of the PokerStars hand-history text, for round-trip tests of the export.

It follows the conventions tracking tools read (header, seats, blinds, actions with raise-to
amounts, uncalled bets, "collected ... from pot", summary) and recomputes every player's net
from the text alone, so a test can check it against what the table server stored.
"""

from __future__ import annotations

import re
from collections import defaultdict

AMOUNT = r"₩(\d+)"


def parse_pokerstars(text: str) -> list[dict]:
    """Parse exported PokerStars hands into facts, recomputing each player's net."""
    hands = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        head = re.match(
            r"PokerStars Hand #(\d+):  Hold'em No Limit \(₩(\d+)/₩(\d+) KRW\) - "
            r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) KST$",
            lines[0],
        )
        assert head, lines[0]
        table = re.match(r"Table '(.+)' (\d)-max Seat #(\d) is the button$", lines[1])
        assert table, lines[1]
        hand = {
            "id": int(head[1]),
            "blinds": (int(head[2]), int(head[3])),
            "button": int(table[3]),
            "seats": {},
            "dealt": {},
            "shown": {},
            "board": [],
            "net": defaultdict(int),
            "collected": 0,
            "summary_board": [],
        }
        put = defaultdict(int)  # this street's total per player
        section = "seats"
        for line in lines[2:]:
            if m := re.match(rf"Seat (\d): (\S+) \({AMOUNT} in chips\)$", line):
                hand["seats"][m[2]] = (int(m[1]), int(m[3]))
            elif line.startswith("*** HOLE CARDS"):
                section = "preflop"
            elif m := re.match(r"\*\*\* (FLOP|TURN|RIVER) \*\*\* (?:\[.*\] )?\[(.+)\]$", line):
                hand["board"] += m[2].split()
                put.clear()
            elif line == "*** SHOW DOWN ***":
                section = "showdown"
            elif line == "*** SUMMARY ***":
                section = "summary"
            elif section == "summary":
                if m := re.match(rf"Total pot {AMOUNT}.*\| Rake {AMOUNT}$", line):
                    hand["pot"], hand["rake"] = int(m[1]), int(m[2])
                elif m := re.match(r"Board \[(.+)\]$", line):
                    hand["summary_board"] = m[1].split()
            elif m := re.match(rf"(\S+): posts (?:small|big) blind {AMOUNT}", line):
                hand["net"][m[1]] -= int(m[2])
                put[m[1]] += int(m[2])
            elif m := re.match(r"Dealt to (\S+) \[(.+)\]$", line):
                hand["dealt"][m[1]] = m[2].split()
            elif (m := re.match(rf"(\S+): calls {AMOUNT}", line)) or (
                m := re.match(rf"(\S+): bets {AMOUNT}", line)
            ):
                hand["net"][m[1]] -= int(m[2])
                put[m[1]] += int(m[2])
            elif m := re.match(rf"(\S+): raises {AMOUNT} to {AMOUNT}", line):
                hand["net"][m[1]] -= int(m[3]) - put[m[1]]
                put[m[1]] = int(m[3])
            elif m := re.match(rf"Uncalled bet \({AMOUNT}\) returned to (\S+)$", line):
                hand["net"][m[2]] += int(m[1])
            elif m := re.match(r"(\S+): shows \[(.+)\] \((.+)\)$", line):
                hand["shown"][m[1]] = m[2].split()
            elif m := re.match(rf"(\S+) collected {AMOUNT} from", line):
                hand["net"][m[1]] += int(m[2])
                hand["collected"] += int(m[2])
            else:
                assert re.match(r"\S+: (folds|checks|mucks hand)$", line), line
        hands.append(hand)
    return hands
