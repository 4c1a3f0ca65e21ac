"""The model registry: versioned model folders with a manifest, written
atomically, every file checked against its sha256 before it is read into a
model (:mod:`~newstag.registry.store`).

May import :mod:`newstag.learn` (to export the compact form at registration),
:mod:`newstag.engine` and below.
"""

from newstag.registry.store import COMPACT_FILE, MANIFEST_FILE, MODEL_FILE, ModelRef, Registry, RegistryError, runtime_versions

__all__ = ["COMPACT_FILE", "MANIFEST_FILE", "MODEL_FILE", "ModelRef", "Registry", "RegistryError", "runtime_versions"]
