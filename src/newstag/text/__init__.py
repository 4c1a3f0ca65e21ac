"""Text preparation shared by training and every prediction engine: Unicode
and accent folding, lower-casing, title weighting
(:mod:`~newstag.text.preparation`), stop-word lists (``resources/``), and the
schema's alias matcher (:mod:`~newstag.text.aliases`).

Functions here end up inside pickled pipelines: ``newstag.text.X`` re-exports
the preparation functions so that their import paths stay stable. May import
:mod:`newstag.core` only; pure Python and numpy, no scikit-learn.
"""

from newstag.text.preparation import Fields, compose, fields, fold_accents, fold_and_lower, lower_same_length, normalize, prepare

__all__ = ["Fields", "compose", "fields", "fold_accents", "fold_and_lower", "lower_same_length", "normalize", "prepare"]
