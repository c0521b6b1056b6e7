"""The experiments, installed as ``admodes.experiments``: one module per experiment, each
declaring an ``EXPERIMENT`` for the harness (``admodes.harness``). ``admodes run NAME`` or
``python experiments/NAME.py`` runs one."""
