"""Write the capability table (``rooms.capabilities.markdown``) into docs/protocol.md between
its markers: ``python scripts/capabilities_doc.py``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooms.capabilities import markdown  # noqa: E402

BEGIN = "<!-- capabilities:begin -->"
END = "<!-- capabilities:end -->"


def render(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + BEGIN + "\n" + markdown() + END + tail


if __name__ == "__main__":
    doc = ROOT / "docs" / "protocol.md"
    doc.write_text(render(doc.read_text()))
