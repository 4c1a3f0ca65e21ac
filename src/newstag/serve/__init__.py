"""Serving: loading registered models for prediction and applying them
(:mod:`~newstag.serve.predict`: the Python API and the streaming engine behind
``newstag predict``), explanations (:mod:`~newstag.serve.explain`) and output
writers (:mod:`~newstag.serve.output`).

May import :mod:`newstag.registry` and below; the prediction path imports
scikit-learn only when a model has no compact form.
"""
