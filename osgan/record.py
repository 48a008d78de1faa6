"""The names :mod:`osgan.sweep` and ``tests/test_sweep.py`` read a record by, as ``record.*``.

A record is read by :mod:`osgan.analysis.records` and analysed by
:mod:`osgan.analysis.table2_record`; new code imports those. This module only keeps the runner's
names until it imports them itself.
"""

from osgan.analysis.records import at_grid, cost_key, dfad_round_costs, load, load_dfad
from osgan.analysis.table2_record import choose, dfad_plateau, dfad_table2, run_on

__all__ = ["at_grid", "choose", "cost_key", "dfad_plateau", "dfad_round_costs", "dfad_table2",
           "load", "load_dfad", "run_on"]
