"""Learning: the scikit-learn pieces a model is built from. Feature
transformers (:mod:`~newstag.learn.features`), multi-label classifiers with
calibrated probabilities (:mod:`~newstag.learn.models`), per-label thresholds
(:mod:`~newstag.learn.thresholds`) and the export of a fitted model to the
compact engine (:mod:`~newstag.learn.export`).

Every class follows scikit-learn's estimator contract so that ``clone``,
``Pipeline`` and Hydra's ``instantiate`` compose them. May import
:mod:`newstag.engine`, :mod:`newstag.metrics`, :mod:`newstag.data` and below;
knows nothing of the registry, reports or entry points.
"""
