"""Foundation: where the project's files are (:mod:`~newstag.core.paths`) and
how files are written safely (:mod:`~newstag.core.files`: atomic writes,
sha256).

Owns no domain knowledge. Imports nothing from newstag; every other layer may
import it.
"""
