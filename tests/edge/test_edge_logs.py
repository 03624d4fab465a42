"""The table servers' JSON log lines."""

from __future__ import annotations

import json
import logging

from edge.logs import JsonFormatter


def test_a_hand_ended_line_with_the_net_by_user_id_is_one_json_object():
    record = logging.LogRecord("edge.tables", logging.INFO, __file__, 1, "hand ended", (), None)
    record.net = {7: -2_000, 9: 1_900}  # user ids are ints: JSON keys must be strings
    record.board = ["Ah", "Kd", "7c"]
    line = JsonFormatter("edge1").format(record)
    entry = json.loads(line)
    assert entry["msg"] == "hand ended"
    assert entry["worker"] == "edge1"
    assert entry["net"] == {"7": -2_000, "9": 1_900}
    assert entry["board"] == ["Ah", "Kd", "7c"]
