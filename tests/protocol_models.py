"""Checks a server message against its model in `holdem.protocol.outgoing`.

`problems(message)` lists what does not match: a field the model does not declare, a
required field missing, a value of the wrong type (recursively through lists and nested
objects). `Coverage` remembers which declared fields were seen, so a test can tell a
documented field that is never sent.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin

from holdem.protocol.outgoing import EVENTS, SERVER_MESSAGES


def model_of(message: dict[str, Any]) -> type | None:
    """The model of a message (by ``type``, and ``event`` for events)."""
    if message.get("type") == "event":
        return EVENTS.get(str(message.get("event")))
    return SERVER_MESSAGES.get(str(message.get("type")))


def _is_typeddict(kind: Any) -> bool:
    return isinstance(kind, type) and hasattr(kind, "__required_keys__")


def _strip(kind: Any) -> Any:
    while get_origin(kind) in (Required, NotRequired):
        (kind,) = get_args(kind)
    return kind


@dataclass
class Coverage:
    """Which fields of which models were seen (model name → field names)."""

    seen: dict[str, set[str]] = field(default_factory=dict)

    def missing(self, model: type) -> set[str]:
        return set(typing.get_type_hints(model)) - self.seen.get(model.__name__, set())


def problems(message: dict[str, Any], coverage: Coverage | None = None) -> list[str]:
    """What in `message` disagrees with its model (empty: it conforms)."""
    model = model_of(message)
    if model is None:
        return [f"no model for type={message.get('type')!r} event={message.get('event')!r}"]
    found: list[str] = []
    _check(message, model, str(message.get("event") or message.get("type")), found, coverage)
    return found


def _check(value: Any, kind: Any, where: str, found: list[str], cov: Coverage | None) -> None:
    kind = _strip(kind)
    origin = get_origin(kind)
    if _is_typeddict(kind):
        if not isinstance(value, dict):
            found.append(f"{where}: expected an object, got {value!r}")
            return
        hints = typing.get_type_hints(kind, include_extras=True)
        for name in sorted(set(value) - set(hints)):
            found.append(f"{where}: field {name!r} is not in the reference ({kind.__name__})")
        for name in sorted(kind.__required_keys__ - set(value)):
            found.append(f"{where}: required field {name!r} is missing ({kind.__name__})")
        if cov is not None:
            cov.seen.setdefault(kind.__name__, set()).update(n for n in value if n in hints)
        for name, item in value.items():
            if name in hints:
                _check(item, hints[name], f"{where}.{name}", found, cov)
        return
    if origin in (Union, types.UnionType):
        for option in get_args(kind):
            attempt: list[str] = []
            _check(value, option, where, attempt, None)
            if not attempt:
                _check(value, option, where, found, cov)
                return
        found.append(f"{where}: {value!r} is none of {kind}")
        return
    if origin is Literal:
        if value not in get_args(kind):
            found.append(f"{where}: {value!r} is not one of {get_args(kind)}")
        return
    if origin is list:
        if not isinstance(value, list):
            found.append(f"{where}: expected a list, got {value!r}")
            return
        (item_kind,) = get_args(kind)
        for i, item in enumerate(value):
            _check(item, item_kind, f"{where}[{i}]", found, cov)
        return
    if kind is type(None):
        ok = value is None
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        found.append(f"{where}: {value!r} is not a {getattr(kind, '__name__', kind)}")
