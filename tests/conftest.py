"""Shared fixtures: the project's real configs and corpus, shrunk for speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = ROOT / "data" / "corpus"
BIN = Path(sys.executable).parent


def shared_or_skip(*parts: str) -> Path:
    """A file of ../shared (the project's steering folder), or skip: a clone
    elsewhere does not have it (CI does)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: ../shared is only present in the project workspace and CI")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run_cli(*args: str, stdin: bytes | None = None, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``newstag`` console script, as a user would."""
    return subprocess.run([str(BIN / "newstag"), *args], input=stdin, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


@pytest.fixture(scope="session")
def corpus_train():
    from newstag.data import load_labelled

    return load_labelled(CORPUS / "train.jsonl")


@pytest.fixture(scope="session")
def corpus_test():
    from newstag.data import load_labelled

    return load_labelled(CORPUS / "test.jsonl")


@pytest.fixture(scope="session")
def small_sets(tmp_path_factory, corpus_train, corpus_test):
    """A stratified slice of the corpus (fast to train on) as JSONL files."""
    from newstag.data import write_jsonl as write

    base = tmp_path_factory.mktemp("small")
    train = corpus_train[::6]  # about 250 and 100 articles: every code path, seconds to train
    test = corpus_test[::4]
    return write(train, base / "train.jsonl"), write(test, base / "test.jsonl")


@pytest.fixture(scope="session")
def trained_registry(tmp_path_factory, small_sets):
    """A registry with one topics and one actors model trained through the
    real ``newstag-train`` entry point on the small slice."""
    reg = tmp_path_factory.mktemp("registry")
    train, test = small_sets
    proc = subprocess.run(
        [
            str(BIN / "newstag-train"),
            "data=custom",
            f"data.train={train}",
            f"data.test={test}",
            f"paths.registry={reg}",
            f"paths.runs={tmp_path_factory.mktemp('runs')}",
            "thresholds.folds=3",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return reg
