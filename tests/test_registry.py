from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from newstag.registry import Registry, RegistryError


def _register(root, payload="model"):
    return Registry(root).register("topics", {"payload": payload}, {"labels": ["a"], "metrics": {}})


def test_versions_increase_and_resolve(tmp_path):
    reg = Registry(tmp_path)
    refs = [_register(tmp_path, str(i)) for i in range(3)]
    assert [r.version for r in refs] == ["v1", "v2", "v3"]
    assert reg.resolve("topics").version == "v3"
    assert reg.resolve("topics@latest").version == "v3"
    assert reg.resolve("topics@v2").path == tmp_path / "topics" / "v2"
    assert reg.resolve(str(tmp_path / "topics" / "v1")).version == "v1"
    assert reg.resolve(str(tmp_path / "topics" / "v1" / "manifest.json")).version == "v1"
    model, manifest = reg.load("topics@v2")
    assert model == {"payload": "1"} and manifest["version"] == "v2"


def test_manifest_content(tmp_path):
    ref = _register(tmp_path)
    m = json.loads((ref.path / "manifest.json").read_text())
    for key in ("version", "task", "labels", "sha256", "versions", "created_at", "git_commit"):
        assert key in m
    assert set(m["versions"]) == {"python", "scikit-learn", "joblib"}


def test_versions_never_reused_after_deletion(tmp_path):
    import shutil

    _register(tmp_path)
    second = _register(tmp_path)
    shutil.rmtree(second.path)
    assert _register(tmp_path).version == "v3"


def test_aliases_and_promote(tmp_path):
    reg = Registry(tmp_path)
    _register(tmp_path)
    _register(tmp_path)
    assert reg.default_ref("topics") == "topics@latest"
    reg.promote("topics@v1", "production")
    assert reg.resolve("topics@production").version == "v1"
    assert reg.default_ref("topics") == "topics@production"
    with pytest.raises(RegistryError, match="reserved"):
        reg.promote("topics@v1", "latest")
    with pytest.raises(RegistryError, match="no alias 'staging'"):
        reg.resolve("topics@staging")


def test_unknown_references_explain_what_to_do(tmp_path):
    reg = Registry(tmp_path)
    with pytest.raises(RegistryError, match="newstag-train task=topics"):
        reg.resolve("topics")
    _register(tmp_path)
    with pytest.raises(RegistryError, match="no version v9"):
        reg.resolve("topics@v9")
    with pytest.raises(RegistryError, match="not a model folder"):
        reg.resolve(str(tmp_path))


def test_tampered_model_is_refused_before_unpickling(tmp_path):
    ref = _register(tmp_path)
    path = ref.path / "model.joblib"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="does not match the manifest"):
        Registry(tmp_path).load("topics")
    with pytest.raises(RegistryError, match="does not match"):
        Registry(tmp_path).verify("topics")


def test_other_sklearn_minor_version_is_refused_unless_allowed(tmp_path):
    ref = _register(tmp_path)
    mpath = ref.path / "manifest.json"
    m = json.loads(mpath.read_text())
    m["versions"]["scikit-learn"] = "0.1.0"
    mpath.write_text(json.dumps(m))
    with pytest.raises(RegistryError, match=r"scikit-learn 0\.1\.0.*--allow-version-mismatch"):
        Registry(tmp_path).load("topics")
    model, _ = Registry(tmp_path).load("topics", allow_version_mismatch=True)
    assert model == {"payload": "model"}


def test_crash_mid_write_leaves_no_version(tmp_path, monkeypatch):
    import newstag.registry.store as registry

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(registry, "atomic_write_text", boom)
    with pytest.raises(OSError):
        _register(tmp_path)
    monkeypatch.undo()
    assert Registry(tmp_path).versions("topics") == []
    assert not [p for p in (tmp_path / "topics").iterdir() if p.name.startswith(".incoming")]
    assert _register(tmp_path).version == "v1"


def _worker(root, n, queue):
    queue.put([_register(root, f"{n}-{i}").version for i in range(4)])


def test_parallel_processes_get_distinct_versions(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), n, queue)) for n in range(2)]
    for p in procs:
        p.start()
    versions = queue.get(timeout=120) + queue.get(timeout=120)
    for p in procs:
        p.join(timeout=60)
    assert sorted(versions, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(1, 9)]
