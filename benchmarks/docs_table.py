"""Writing a benchmark's table into docs/benchmarks.md, between its markers."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_between_markers(name: str, text: str, stamp: str, heading: str | None = None, doc: Path = DOC) -> None:
    """Replace what lies between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in ``doc``
    (docs/benchmarks.md by default) with the table and its stamp (how it was made); add the
    section under ``heading`` if the markers are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    print(text)
    print(stamp)
    content = doc.read_text()
    if begin not in content:
        content += f"\n## {heading or name}\n\n{begin}\n{end}\n"
    block = f"{begin}\n{text}\n\n{stamp}\n{end}"
    content = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, content, flags=re.S)
    doc.write_text(content)
