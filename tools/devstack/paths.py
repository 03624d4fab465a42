"""Where things are in the checkout."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".devstate"
VENV_BIN = ROOT / ".venv" / "bin"
# DEVSTACK_TEMPLATE lets tests run the local-stack tools against a template of their own.
TEMPLATE = Path(os.environ.get("DEVSTACK_TEMPLATE") or ROOT / "template.yaml")
