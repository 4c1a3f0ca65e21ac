"""Atomic file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # (writing only: not on the CLI's loading path)

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def marked_block(text: str, name: str) -> str | None:
    """The body between ``<!-- name:start -->`` and ``<!-- name:end -->`` in
    ``text``, or ``None`` when the markers are absent."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text.split(start, 1)[1]:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def replace_marked_block(path: str | os.PathLike[str], name: str, body: str) -> bool:
    """Put ``body`` between the ``name`` markers of the file at ``path``
    (atomically), as generated figures are kept in README.md and RESULTS.md.
    Returns ``False``, changing nothing, when the file has no such markers."""
    target = Path(path)
    text = target.read_bytes().decode("utf-8")  # line endings as they are
    if marked_block(text, name) is None:
        return False
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    atomic_write_text(target, head + start + "\n" + body.strip("\n") + "\n" + end + rest.split(end, 1)[1])
    return True
