"""Secrets Manager references in environment variables, resolved once per process start.

template.yaml never puts a secret into a function's configuration. It puts a reference:
``{{secret:<secret ARN>#<JSON key>}}`` (``#key`` may be left out for a plain-text secret),
alone or inside a larger value such as a database URL::

    DATABASE_URL=postgresql+psycopg://{{secret:arn:...:secret:db#username}}:{{secret:arn:...#password}}@proxy:5432/holdem

`resolve_secret_references()` replaces every reference with the secret's value, fetching each
secret once, before the settings are read. Values without a reference are left untouched, and
no AWS client is created when there is nothing to resolve (local runs and tests).

Processes get resolved values before any of their code runs, whatever it calls first:

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
from collections.abc import Callable, MutableMapping
from typing import Any

_REFERENCE = re.compile(r"\{\{secret:(?P<arn>[^#}]+)(?:#(?P<key>[^}]+))?\}\}")

SecretFetcher = Callable[[str], str]


class SecretReferenceError(RuntimeError):
    """A referenced secret or key does not exist (code: ``secret_reference``)."""

    code = "secret_reference"


def _fetch_from_secrets_manager(arn: str) -> str:
    import boto3  # only when a reference exists: a Lambda cold start in AWS

    client = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    try:
        value: str = client.get_secret_value(SecretId=arn)["SecretString"]
    finally:
        client.close()
    return value


def resolve_secret_references(
    environ: MutableMapping[str, str] | None = None,
    fetch: SecretFetcher = _fetch_from_secrets_manager,
) -> int:
    """Replace ``{{secret:ARN#key}}`` in `environ` (os.environ by default); return how many."""
    env = os.environ if environ is None else environ
    cache: dict[str, str] = {}
    replaced = 0

    def substitute(found: re.Match[str]) -> str:
        nonlocal replaced
        arn, key = found.group("arn"), found.group("key")
        if arn not in cache:
            cache[arn] = fetch(arn)
        replaced += 1
        if key is None:
            return cache[arn]
        try:
            document: Any = json.loads(cache[arn])
            return str(document[key])
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretReferenceError(f"secret {arn} has no JSON key {key!r}") from exc

    for name, value in list(env.items()):
        if "{{secret:" in value:
            env[name] = _REFERENCE.sub(substitute, value)
    return replaced


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
