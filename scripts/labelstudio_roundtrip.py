"""Round trip through a real Label Studio; writes the export the tests read.

    python scripts/labelstudio_roundtrip.py                 # venv /tmp/ls-venv, port 8089
    python scripts/labelstudio_roundtrip.py --venv /tmp/ls-venv --port 8089 --n 8 \\
        --out tests/fixtures/labelstudio

Run it with the project's interpreter (``.venv/bin/python``). Steps:

1. install ``label-studio`` and ``label-studio-sdk`` into their own venv
   (``--venv``, outside the repository; reused when present);
2. start Label Studio on 127.0.0.1 with a throw-away data folder, an admin
   user and an API token (legacy tokens enabled for the script);
3. write the labelling interface with ``newstag labelstudio config`` and
   create a project with it through ``label-studio-sdk``;
4. ``newstag suggest data/corpus/test.jsonl --format labelstudio`` (the
   registered models), plus one task with an empty text, imported;
5. annotate through the API: most tasks take the pre-annotation with one
   correction; one is skipped (cancelled), one gets two conflicting
   annotations, one two agreeing ones, one is left unannotated;
6. export the project as JSON (all tasks) and write, into ``--out``:
   ``export.json`` (the real export), ``tasks.json`` (what was imported),
   ``config.xml`` and ``expected.json`` (what each task should become on
   import, for the tests); stop the server.

The CI does not run this (installing and starting Label Studio takes
minutes); the tests read the committed export. Re-run it when the schema,
the task format or Label Studio changes.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEWSTAG = Path(sys.executable).parent / "newstag"


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not (venv / "bin" / "label-studio").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "label-studio", "label-studio-sdk"], check=True)
    return python


def start(venv: Path, port: int, data_dir: Path, token: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    cmd = [
        str(venv / "bin" / "label-studio"),
        "start",
        "--no-browser",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        "annotator@example.org",
        "--password",
        secrets.token_hex(12),
        "--user-token",
        token,
    ]
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Label Studio exited with {proc.returncode}; see {data_dir / 'server.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(3)
    proc.terminate()
    raise RuntimeError(f"Label Studio did not answer on port {port} within 10 minutes")


def choices(labels: dict[str, list[str]]) -> list[dict]:
    return [{"from_name": k, "to_name": "text", "type": "choices", "value": {"choices": v}} for k, v in labels.items() if v]


def roundtrip(sdk_python: Path, port: int, token: str, out: Path, n: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(NEWSTAG), "labelstudio", "config", "-o", str(out / "config.xml")], check=True)
    tasks_file = out / "tasks.json"
    subprocess.run(
        [str(NEWSTAG), "suggest", str(ROOT / "data" / "corpus" / "test.jsonl"), "--n", str(n), "--format", "labelstudio", "-o", str(tasks_file)],
        check=True,
    )
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    tasks.append({"data": {"article_id": "empty-text", "lang": "it", "title": "", "subtitle": "", "text": ""}})
    tasks_file.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    # the SDK lives in its own venv: drive it with a small program run there
    program = _SDK_PROGRAM.format(port=port, token=token, config=str(out / "config.xml"), tasks=str(tasks_file), export=str(out / "export.json"))
    subprocess.run([str(sdk_python), "-c", program], check=True)


_SDK_PROGRAM = r"""
import json
from label_studio_sdk import LabelStudio

ls = LabelStudio(base_url="http://127.0.0.1:{port}", api_key="{token}")
config = open("{config}", encoding="utf-8").read()
project = ls.projects.create(title="newstag round trip", label_config=config)
tasks = json.load(open("{tasks}", encoding="utf-8"))
ls.projects.import_tasks(id=project.id, request=tasks)
made = sorted(ls.tasks.list(project=project.id), key=lambda t: t.id)
def region(kind, values):
    return {{"from_name": kind, "to_name": "text", "type": "choices", "value": {{"choices": values}}}}
def labels_of(task):
    out = {{"topics": [], "actors": []}}
    for p in task.predictions or []:
        for r in (p.result if hasattr(p, "result") else p["result"]):
            out[r["from_name"]] = list(r["value"]["choices"])
    return out
expected = {{}}
by_article = {{t.data["article_id"]: t for t in made}}
articles = [t["data"]["article_id"] for t in tasks]
empty, unannotated, cancelled, conflict, agree, *normal = articles[::-1]
for aid in normal:
    t = by_article[aid]
    lab = labels_of(t)
    # the annotator corrects the pre-annotation: toggles mediation
    lab["topics"] = [x for x in lab["topics"] if x != "mediation"] if "mediation" in lab["topics"] else lab["topics"] + ["mediation"]
    ls.annotations.create(id=t.id, result=[region(k, v) for k, v in lab.items() if v], was_cancelled=False)
    expected[aid] = {{"status": "ok", "task": t.id, **lab}}
t = by_article[cancelled]
ls.annotations.create(id=t.id, result=[], was_cancelled=True)
expected[cancelled] = {{"status": "cancelled", "task": t.id}}
t = by_article[conflict]
ls.annotations.create(id=t.id, result=[region("topics", ["diplomacy"]), region("actors", ["usa"])])
ls.annotations.create(id=t.id, result=[region("topics", ["mediation"]), region("actors", ["usa", "russia"])])
expected[conflict] = {{"status": "conflict", "task": t.id}}
t = by_article[agree]
for _ in range(2):
    ls.annotations.create(id=t.id, result=[region("topics", ["diplomacy"]), region("actors", ["eu"])])
expected[agree] = {{"status": "ok", "task": t.id, "topics": ["diplomacy"], "actors": ["eu"]}}
t = by_article[empty]
ls.annotations.create(id=t.id, result=[region("topics", ["diplomacy"])])
expected[empty] = {{"status": "empty", "task": t.id}}
expected[unannotated] = {{"status": "unannotated", "task": by_article[unannotated].id}}
data = b"".join(ls.projects.exports.download_sync(id=project.id, export_type="JSON", download_all_tasks=True))
open("{export}", "wb").write(data)
json.dump(expected, open("{export}".replace("export.json", "expected.json"), "w"), indent=1, sort_keys=True)
print("exported", len(json.loads(data)), "tasks")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default="/tmp/ls-venv", help="Label Studio's own venv (outside the repository)")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--n", type=int, default=8, help="suggested tasks to import (at least 5)")
    parser.add_argument("--out", default=str(ROOT / "tests" / "fixtures" / "labelstudio"))
    args = parser.parse_args(argv)
    if args.n < 5:
        parser.error("--n must be at least 5: the script needs a cancelled, a conflicting, an agreeing, an unannotated and a normal task")
    python = ensure_venv(Path(args.venv))
    data_dir = Path(tempfile.mkdtemp(prefix="ls-data-"))
    token = secrets.token_hex(20)
    proc = start(Path(args.venv), args.port, data_dir, token)
    try:
        roundtrip(python, args.port, token, Path(args.out), args.n)
        version = subprocess.run([str(python), "-c", "import label_studio, label_studio_sdk; print(label_studio.__version__)"], capture_output=True, text=True)
        (Path(args.out) / "VERSION").write_text(f"label-studio {version.stdout.strip()}\n", encoding="utf-8")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
