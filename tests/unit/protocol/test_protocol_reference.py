"""The protocol reference (docs/protocol.md, docs/asyncapi.yaml) is complete and true.

Both documents are checked against the models: `holdem.protocol.outgoing` (server → client)
and `holdem.protocol.messages` (client → server), field by field, both ways; the error codes
against the exception trees; and what the engine's records become on the wire against the
models, including that every declared field of them is sent in a few played hands.
"""

from __future__ import annotations

import random
import re
import typing
from fractions import Fraction

import pytest
import yaml

from devstack.paths import ROOT
from holdem.engine import EngineError, RakeRule, Table, TableConfig
from holdem.engine import errors as engine_errors
from holdem.engine.events import HandEnded, audience
from holdem.protocol import errors as protocol_errors
from holdem.protocol import messages
from holdem.protocol.errors import ProtocolError
from holdem.protocol.outgoing import (
    EVENTS,
    NESTED,
    PROTOCOL_VERSION,
    RESULTS,
    SERVER_MESSAGES,
    HandResultMessage,
    Snapshot,
)
from holdem.protocol.views import event_to_wire, result_to_wire, view_to_wire
from holdem.services import errors as service_errors
from holdem.services import ledger_errors
from tests.protocol_models import Coverage, problems

ASYNCAPI = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
PROTOCOL_MD = (ROOT / "docs" / "protocol.md").read_text()
SCHEMAS = ASYNCAPI["components"]["schemas"]
MESSAGES = ASYNCAPI["components"]["messages"]
ENVELOPE = ("type", "table_id", "hand", "event")
"""What every ``event`` message carries besides its event's own fields."""


def fields(model: type) -> tuple[set[str], set[str]]:
    """A TypedDict's (all fields, required fields)."""
    return set(typing.get_type_hints(model)), set(model.__required_keys__)


def schema_fields(schema: dict) -> tuple[set[str], set[str]]:
    assert schema.get("additionalProperties") is False, schema
    return set(schema["properties"]), set(schema.get("required", []))


def asyncapi_message(type_name: str, operation: str = "receiveUpdate") -> dict:
    """The payload of the message of `type_name` the server sends (``receiveUpdate``) or
    receives (``sendCommand``): ``chat`` is both, with two shapes."""
    names = [m["$ref"].rsplit("/", 1)[1] for m in ASYNCAPI["operations"][operation]["messages"]]
    (payload,) = [
        MESSAGES[name]["payload"]
        for name in names
        if MESSAGES[name]["payload"].get("properties", {}).get("type", {}).get("const") == type_name
    ]
    return payload


def ref(pointer: str) -> dict:
    return SCHEMAS[pointer.rsplit("/", 1)[1]]


def test_the_reference_names_the_protocol_version():
    assert ASYNCAPI["info"]["version"] == PROTOCOL_VERSION
    assert f"Protocol **{PROTOCOL_VERSION}**" in PROTOCOL_MD


def test_every_server_message_type_has_a_model():
    assert {t.value for t in messages.ServerType} == set(SERVER_MESSAGES) | {"event"}


@pytest.mark.parametrize("type_name", sorted(SERVER_MESSAGES))
def test_asyncapi_describes_every_server_message_field_by_field(type_name):
    assert schema_fields(asyncapi_message(type_name)) == fields(SERVER_MESSAGES[type_name])


def test_asyncapi_describes_every_event_field_by_field():
    described = {}
    for option in MESSAGES["event"]["payload"]["oneOf"]:
        schema = ref(option["$ref"])
        kind = schema["properties"]["event"]
        for name in kind.get("enum", [kind.get("const")]):
            described[name] = schema_fields(schema)
    assert described == {name: fields(model) for name, model in EVENTS.items()}


@pytest.mark.parametrize("name", sorted(NESTED))
def test_asyncapi_describes_every_object_inside_messages(name):
    assert schema_fields(SCHEMAS[name]) == fields(NESTED[name])


@pytest.mark.parametrize(
    "model",
    [
        messages.Auth,
        messages.Join,
        messages.Sit,
        messages.Act,
        messages.SitOut,
        messages.SitIn,
        messages.TopUp,
        messages.Leave,
        messages.Subscribe,
        messages.Unsubscribe,
        messages.Ping,
        messages.Chat,
        messages.Mute,
        messages.Unmute,
    ],
)
def test_asyncapi_describes_every_client_message_as_the_server_validates_it(model):
    names = {f.alias or name for name, f in model.model_fields.items()}
    required = {f.alias or name for name, f in model.model_fields.items() if f.is_required()}
    type_name = typing.get_args(model.model_fields["type"].annotation)[0]
    assert schema_fields(asyncapi_message(type_name, "sendCommand")) == (names, required)


def _md_table(heading: str) -> dict[str, tuple[set[str], set[str]]]:
    """The rows of the field table after `heading` in protocol.md: name → (fields, required)."""
    section = PROTOCOL_MD.split("## Every field", 1)[1]
    lines = section.split(heading, 1)[1].split("\n\n", 2)[1].splitlines()
    rows = {}
    for line in lines[2:]:
        name, cell = (part.strip() for part in line.strip("|").split("|")[:2])
        found = re.findall(r"`([a-z_]+)`(\?)?", cell)
        rows[name.strip("`")] = ({f for f, _ in found}, {f for f, opt in found if not opt})
    return rows


def test_protocol_md_lists_every_field_of_every_message_event_and_object():
    assert _md_table("Messages (") == {n: fields(m) for n, m in SERVER_MESSAGES.items()}
    envelope = set(ENVELOPE)
    assert _md_table("Events (") == {
        n: (all_ - envelope, required - envelope)
        for n, (all_, required) in ((n, fields(m)) for n, m in EVENTS.items())
    }
    assert _md_table("Objects inside messages") == {n: fields(m) for n, m in NESTED.items()}
    results = _md_table("What a `result` carries")
    assert {name: found for name, (found, _) in results.items()} == RESULTS


def _codes(base: type) -> set[str]:
    found, todo = set(), [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.add(sub.code)
            todo.append(sub)
    return found


ENGINE_NEVER_ANSWERED = {
    # Base classes, and errors of building a table or restoring its state: never the answer
    # to a client's command.
    engine_errors.ActionError.code,
    engine_errors.SeatError.code,
    engine_errors.HandStateError.code,
    engine_errors.ConfigError.code,
    engine_errors.DeckError.code,
    engine_errors.StateError.code,
    engine_errors.UnknownStateVersionError.code,
}
SERVICE_CODES_AT_TABLES = {
    # What the table servers' ledger calls (holdem.services.table_runtime) can refuse (a seat
    # taken in PostgreSQL is the engine's SeatTakenError, counted with the engine's codes).
    service_errors.TableNotOpen.code,
    ledger_errors.InsufficientFunds.code,
    ledger_errors.UnknownAccountOwner.code,
    service_errors.LossLimitReached.code,
    service_errors.SelfExcluded.code,
    service_errors.SharedIdentity.code,
    service_errors.RatholeMinimum.code,
    # What the table servers raise themselves from the services' tree (edge/handshake.py,
    # edge/commands.py).
    service_errors.InvalidAccessToken.code,
    service_errors.RateLimited.code,
}


def test_every_error_code_a_client_can_receive_is_in_both_documents():
    codes = (
        _codes(ProtocolError)
        | (_codes(EngineError) - ENGINE_NEVER_ANSWERED)
        | SERVICE_CODES_AT_TABLES
        | {"internal_error"}
    )
    assert ProtocolError.code not in codes
    section = PROTOCOL_MD.split("## Errors and close codes", 1)[1].split("Close codes", 1)[0]
    documented = set()
    for line in section.splitlines()[5:]:
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    assert documented == codes
    enum = MESSAGES["error"]["payload"]["properties"]["code"]["enum"]
    assert set(enum) == codes
    assert protocol_errors.NotBetweenHands.code == "not_between_hands"


TABLE_SERVER_ADDS = {"clock": None, "last_seq": 0, "settling": False, "disconnected": []}
"""What the table server adds to an engine view in a snapshot (checked by the edge tests)."""


def _play(table: Table, rng: random.Random) -> list[dict]:
    """One hand with random legal actions; every message the owner would send for it."""
    sent = []
    hand = table.start_hand(seed=bytes(rng.randrange(256) for _ in range(32)))
    while True:
        for event in table.drain_events():
            if isinstance(event, HandEnded):
                sent.append({"type": "hand_result", "table_id": 1, **result_to_wire(event.result)})
                continue
            kind = "hole_cards" if audience(event) is not None else "event"
            sent.append({"type": kind, "table_id": 1, "hand": hand.number, **event_to_wire(event)})
        for seat in (None, *range(table.size)):
            view = view_to_wire(table.view_for(seat))
            sent.append({"type": "snapshot", "table_id": 1, **TABLE_SERVER_ADDS, **view})
        if hand.result is not None:
            return sent
        seat = hand.to_act
        legal = hand.legal_actions(seat)
        roll = rng.random()
        if legal.min_raise_to is not None and roll < 0.3:
            amount = rng.choice([legal.min_raise_to, legal.max_raise_to])
            assert amount is not None
            (hand.bet if legal.can_bet else hand.raise_bet)(seat, amount)
        elif legal.can_check:
            hand.check(seat)
        elif roll < 0.45:
            hand.fold(seat)
        else:
            hand.call(seat)


def test_what_the_engine_puts_on_the_wire_matches_the_reference_and_uses_all_of_it():
    rng = random.Random(20)
    rake = RakeRule(Fraction(5, 100), 6_000)
    table = Table(TableConfig(seats=4, small_blind=1_000, big_blind=2_000, rake=rake))
    for seat, stack in enumerate((200_000, 90_000, 200_000, 120_000)):
        table.sit_down(seat, f"p{seat}", stack)
    coverage = Coverage()
    for _ in range(40):
        for message in _play(table, rng):
            assert problems(message, coverage) == [], message
        for seat in range(table.size):
            if table.stacks[seat] < 80_000:
                table.top_up(seat, 200_000 - table.stacks[seat])
    engine_made = [m for name, m in EVENTS.items() if not name.startswith("turn")]
    assert {m.__name__: coverage.missing(m) for m in engine_made} == {
        m.__name__: set() for m in engine_made
    }
    assert coverage.missing(HandResultMessage) == set()
    # A snapshot's id (the answer to a join) and public flag are the table server's; the
    # edge tests check them.
    assert coverage.missing(Snapshot) == {"id", "public"}
    for name in ("Pot", "Winner", "Seat", "LegalActions", "Opening"):
        assert coverage.missing(NESTED[name]) == set(), name
