"""Experiments: the Hydra entry points ``newstag-train``
(:mod:`~newstag.experiment.train`) and ``newstag-evaluate``
(:mod:`~newstag.experiment.evaluate`), the sweep summary callback
(:mod:`~newstag.experiment.sweep`) and the Hydra application set-up they share
(:mod:`~newstag.experiment.app`).

They compose config into objects and orchestrate the layers below: data →
learn → registry → reports. Nothing below imports them.
"""
