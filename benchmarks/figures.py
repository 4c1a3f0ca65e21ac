"""Where a benchmark's generated figures are copied.

A benchmark writes its own Markdown file and, with ``--readme``, copies its
figures between the ``<!-- name:start -->`` / ``<!-- name:end -->`` markers
of that README. When that README is the project's, the same block in
``benchmarks/RESULTS.md`` is refreshed too (when RESULTS.md holds it); a run
writing elsewhere (a test's smoke run, a copy) leaves the project's figures
alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from newstag.core.files import replace_marked_block

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def publish(readme: Path, name: str, figures: str) -> bool:
    """Put ``figures`` in ``readme``'s ``name`` block (and RESULTS.md's, see
    the module). Returns ``False``, changing nothing, when ``readme`` has no
    such block."""
    if not replace_marked_block(readme, name, figures):
        return False
    print(f"updated: {readme}", file=sys.stderr)
    if readme.resolve() == (ROOT / "README.md").resolve() and RESULTS.exists() and replace_marked_block(RESULTS, name, figures):
        print(f"updated: {RESULTS}", file=sys.stderr)
    return True
