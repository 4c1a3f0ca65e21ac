"""The compact scoring engine: a fitted model as plain arrays (``.npz``, no
pickle) and the code that scores articles with them without scikit-learn.

This is what serves predictions on every path (CLI, API, later Spark
executors and the HTTP service) and what a compiled front end will replace.
May import :mod:`newstag.text` and :mod:`newstag.core`; never scikit-learn
(import-linter forbids it).
"""
