"""One concept, one exception: no two classes of the engine's, the protocol's and the services'
exception trees share a stable ``code`` (a transport maps each code once).

A subclass may keep its parent's code (`withdrawals.InsufficientFunds` is the ledger's, told
apart for the withdrawal's message). The pure payment rules' errors (`holdem.payments.errors`)
are left out: the services translate them at the boundary (``raise X from exc``), keeping the
code."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

import holdem.services
from holdem.engine.errors import EngineError
from holdem.protocol.errors import ProtocolError
from holdem.services.errors import ServiceError


def _classes(base: type) -> list[type]:
    found, todo = [base], [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def test_every_error_code_names_one_exception_class():
    # Every services module, so that each error class defined there is counted.
    for module in pkgutil.walk_packages(holdem.services.__path__, "holdem.services."):
        importlib.import_module(module.name)
    classes: dict[str, set[str]] = defaultdict(set)
    for root in (EngineError, ProtocolError, ServiceError):
        for cls in _classes(root):
            if "code" in vars(cls):  # defines a code of its own (not inherited)
                classes[cls.code].add(f"{cls.__module__}.{cls.__qualname__}")
    shared = {code: names for code, names in classes.items() if len(names) > 1}
    assert shared == {}
