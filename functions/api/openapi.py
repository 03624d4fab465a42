"""The OpenAPI document of the REST API, as committed in docs/openapi.json.

``python -m functions.api.openapi docs/openapi.json`` (or ``./dev openapi``) rewrites it;
a test fails when the committed document and the app disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from functions.api.app import create_app


def document() -> dict[str, Any]:
    """The app's OpenAPI document."""
    return create_app().openapi()


def render() -> str:
    """The document as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path("docs/openapi.json")
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
