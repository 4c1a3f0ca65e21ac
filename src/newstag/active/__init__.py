"""Active learning: which unlabelled articles to label next
(:mod:`~newstag.active.suggest`), scored by the strategies of
:mod:`~newstag.active.strategies`, diversified by
:mod:`~newstag.active.diversity`; :mod:`~newstag.active.simulation` holds the
reusable parts of the labels-saved simulation.

An entry-point-level package beside :mod:`newstag.experiment`: it may use
serving, learning and data layers below it.
"""
