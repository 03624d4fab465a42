"""Where things are in the checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".devstate"
VENV_BIN = ROOT / ".venv" / "bin"
TEMPLATE = ROOT / "template.yaml"
