"""Hyper-parameter search for every job: ``seqlab tune forecast|classify|generate`` (Optuna).

:mod:`seqlab.tune.study` holds the study (SQLite, time budget, median pruning, table, plot),
:mod:`seqlab.tune.pruning` the pruner (the median at the current step),
:mod:`seqlab.tune.objectives` one objective per job on its own workflow, :mod:`seqlab.tune.run`
the workflows the command calls. Needs the ``optuna`` extra.
"""
