"""Parser for plain-text article files (the format of ``data/raw/``).

Layout of a file, as pages are usually saved from news sites::

    <title>                 first non-empty line
    <blank / 0 / 501>       short numeric-only lines: page counters, dropped
    <subtitle>              next non-empty line
    <body...>               the rest, section headings included

A sidecar ``<name>.labels.json`` (``{"topics": [...], "actors": [...]}``),
when present, gives the article's labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COUNTER = re.compile(r"^\s*\d{1,7}\s*$")
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class RawArticle:
    title: str
    subtitle: str
    body: str
    metadata: tuple[str, ...]  # the page counters found under the title


def parse_article(content: str) -> RawArticle:
    """Split the text of one article file into its parts (never raises)."""
    lines = content.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    pos = 0

    def next_nonblank() -> int:
        nonlocal pos
        while pos < len(lines) and not lines[pos].strip():
            pos += 1
        return pos

    title = ""
    if next_nonblank() < len(lines):
        title = lines[pos].strip()
        pos += 1
    metadata: list[str] = []
    while next_nonblank() < len(lines) and _COUNTER.match(lines[pos]):
        metadata.append(lines[pos].strip())
        pos += 1
    subtitle = ""
    if next_nonblank() < len(lines):
        subtitle = lines[pos].strip()
        pos += 1
    body = "\n".join(line.rstrip() for line in lines[pos:]).strip()
    return RawArticle(title, subtitle, _BLANKS.sub("\n\n", body), tuple(metadata))
