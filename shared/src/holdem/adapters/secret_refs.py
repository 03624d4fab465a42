"""Secrets Manager references in environment variables: resolved at process start, read again
when a credential is refused.

template.yaml never puts a secret into a function's configuration. It puts a reference:
``{{secret:<secret ARN>#<JSON key>}}`` (``#key`` may be left out for a plain-text secret),
alone or inside a larger value such as a database URL::

    DATABASE_URL=postgresql+psycopg://{{secret:arn:...:secret:db#username}}:{{secret:arn:...#password}}@proxy:5432/holdem

`resolve_secret_references()` replaces every reference with the secret's value before the
settings are read, and records each variable's references in ``SECRET_REFERENCES`` (JSON,
``{"DATABASE_URL": "postgresql+psycopg://{{secret:...}}..."}``: ARNs and keys, no secret), which
the settings read as `Settings.secret_references`; a `SecretValue` built from one reads the
secret again when the value in hand stops working (a rotated database password). Values without
a reference are left untouched, and no AWS client is created when there is nothing to resolve
(local runs and tests).

Secrets are read with Powertools Parameters (`get_secret`: one Secrets Manager client per
process, the values cached). Processes get resolved values before any of their code runs,
whatever it calls first:

- Lambda: the layer's exec wrapper (``AWS_LAMBDA_EXEC_WRAPPER=/opt/holdem-secrets``) runs
  ``python -m holdem.adapters.secret_refs -- <runtime command>``;
- the table-server image: its ENTRYPOINT is ``python -m holdem.adapters.secret_refs --``.

``python -m holdem.adapters.secret_refs -- CMD ARGS...`` resolves the references in its own
environment, then replaces itself with CMD (``os.execvp``), which inherits the values.
`holdem.bootstrap.bootstrap()` also resolves them, for processes started any other way.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

REFERENCES_VARIABLE = "SECRET_REFERENCES"
"""The variable in which `resolve_secret_references` records what each resolved variable held."""

_REFERENCE = re.compile(r"\{\{secret:(?P<arn>[^#}]+)(?:#(?P<key>[^}]+))?\}\}")

SecretFetcher = Callable[[str], str]


class SecretReferenceError(RuntimeError):
    """A referenced secret or key does not exist (code: ``secret_reference``)."""

    code = "secret_reference"


def fetch_secret(arn: str) -> str:
    """The secret's value, read once per process (Powertools' cache keeps it)."""
    # Imported here: boto3 is loaded only when a reference exists (a cold start in AWS).
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(arn)


def fetch_current_secret(arn: str) -> str:
    """The secret's value as Secrets Manager holds it now (past the cache, which it refreshes)."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(arn, force_fetch=True)


def resolve(template: str, fetch: SecretFetcher = fetch_secret) -> str:
    """`template` with each ``{{secret:ARN#key}}`` replaced by its value (each secret read once)."""
    documents: dict[str, str] = {}

    def substitute(found: re.Match[str]) -> str:
        arn, key = found.group("arn"), found.group("key")
        if arn not in documents:
            documents[arn] = fetch(arn)
        if key is None:
            return documents[arn]
        try:
            document: Any = json.loads(documents[arn])
            return str(document[key])
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretReferenceError(f"secret {arn} has no JSON key {key!r}") from exc

    return _REFERENCE.sub(substitute, template)


def resolve_secret_references(
    environ: MutableMapping[str, str] | None = None,
    fetch: SecretFetcher = fetch_secret,
) -> int:
    """Replace ``{{secret:ARN#key}}`` in `environ` (os.environ by default); return how many.

    What each replaced variable held is added to ``SECRET_REFERENCES``.
    """
    env = os.environ if environ is None else environ
    recorded: dict[str, str] = json.loads(env.get(REFERENCES_VARIABLE) or "{}")
    replaced = 0
    cache: dict[str, str] = {}

    def fetch_once(arn: str) -> str:
        if arn not in cache:
            cache[arn] = fetch(arn)
        return cache[arn]

    for name, value in list(env.items()):
        if name == REFERENCES_VARIABLE or "{{secret:" not in value:
            continue
        replaced += len(_REFERENCE.findall(value))
        env[name] = resolve(value, fetch_once)
        recorded[name] = value
    if recorded:
        env[REFERENCES_VARIABLE] = json.dumps(recorded, sort_keys=True)
    return replaced


class SecretValue:
    """A value built from secret references, read again when the value in hand is refused.

    Many connections can be refused at once (a pool refilling after a rotation): the first to
    ask reads the secrets; the others get what it read. Secrets Manager is asked at most once
    per `min_interval_s`, so a credential wrong in both places costs one read per interval,
    never one per connection attempt.

    Args:
        template: The value with its ``{{secret:ARN#key}}`` references.
        value: Its value as resolved at start.
        min_interval_s: The shortest time between two reads.
        fetch: Reads one secret's current value.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        template: str,
        value: str,
        *,
        min_interval_s: float,
        fetch: SecretFetcher = fetch_current_secret,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._template = template
        self._value = value
        self._min_interval_s = min_interval_s
        self._fetch = fetch
        self._clock = clock
        self._read_at: float | None = None
        self._lock = threading.Lock()

    @property
    def value(self) -> str:
        """The value to use now."""
        return self._value

    @property
    def min_interval_s(self) -> float:
        """The shortest time between two reads."""
        return self._min_interval_s

    @property
    def secrets(self) -> list[str]:
        """The ARNs the value is read from."""
        return sorted({found.group("arn") for found in _REFERENCE.finditer(self._template)})

    def replacement_for(self, refused: str) -> str | None:
        """A value other than `refused` to try instead, or None when the secrets hold nothing new.

        Reads the secrets again unless another caller already replaced `refused` or they were
        read less than `min_interval_s` ago.
        """
        with self._lock:
            if self._value == refused:
                now = self._clock()
                if self._read_at is None or now - self._read_at >= self._min_interval_s:
                    self._read_at = now
                    self._value = resolve(self._template, self._fetch)
            return None if self._value == refused else self._value


def main(argv: list[str] | None = None) -> int:
    """Resolve the environment's references, then exec the command after ``--``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("usage: python -m holdem.adapters.secret_refs -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    resolve_secret_references()
    os.execvp(args[0], args)


if __name__ == "__main__":
    raise SystemExit(main())
