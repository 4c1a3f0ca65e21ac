"""Build the optional compiled front end (``newstag.engine._frontend``).

Everything else is declared in ``pyproject.toml``. The extension is
``optional``: without a C compiler (or without Cython) the install still
succeeds and the numpy engine serves; ``newstag models show`` and
``newstag predict --engine`` say which engine runs.
"""

from __future__ import annotations

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class _OptionalBuildExt(build_ext):
    """``build_ext`` that warns instead of failing: a missing compiler or
    Cython must not break ``pip install``."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no Cython: the numpy engine serves
            print(f"WARNING: newstag's compiled front end was not built ({exc}); the numpy engine will serve")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            print(f"WARNING: {ext.name} was not built ({exc}); the numpy engine will serve")


def _extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("WARNING: Cython is not installed; the compiled front end is skipped")
        return []
    # -ffp-contract=off: no fused multiply-adds, so float sums round as numpy's do
    ext = Extension("newstag.engine._frontend", ["src/newstag/engine/_frontend.pyx"], extra_compile_args=["-O3", "-ffp-contract=off"], optional=True)
    return cythonize([ext], compiler_directives={"language_level": "3"}, quiet=True)


setup(ext_modules=_extensions(), cmdclass={"build_ext": _OptionalBuildExt})
