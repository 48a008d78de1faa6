"""The experiment analyses, as findings: numbers and verdict values, never sentences.

The layers import one way, each only from those below it:

1. the paper's numbers, the statistics and the analysis plans (:mod:`osgan.paper`,
   :mod:`osgan.stats`, :mod:`osgan.plans`);
2. reading a record (:mod:`osgan.analysis.records`: cell folders, provenance, metrics, bench
   costs, and the instrument that measured each cell, :mod:`osgan.analysis.instrument`);
3. the per-experiment analyses (:mod:`osgan.table1` under its plan,
   :mod:`osgan.analysis.table1_record`, :mod:`osgan.analysis.table2_record`), which return
   findings; :mod:`osgan.sweep` runs the sweeps by them;
4. rendering (:mod:`osgan.render`, :mod:`osgan.forest`): Markdown tables, figures, intervals;
5. the chapters, which write the prose and place the values with glue.
"""
