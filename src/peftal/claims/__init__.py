"""Claims: a paper's findings as checks a study's runs can judge.

- :mod:`peftal.claims.grammar`: the ``claims:`` entries of a study spec, parsed and checked against
  the spec's cells (``peftal study validate``);
- :mod:`peftal.claims.statistics`: one-sided paired tests, TOST for equivalence, Holm's correction
  (SciPy's distributions);
- :mod:`peftal.claims.judge`: pairing runs seed by seed, averaging what a seed pools, the verdicts
  and the text the report shows above the table (:data:`peftal.claims.judge.METHOD_TEXT`).

Where the package sits: between ``al`` and ``experiments`` in the layer order
(``tests/unit/test_layering.py``), because the spec validator of ``experiments`` needs the
grammar. It therefore reads no store: :mod:`peftal.analysis.claims` computes each run's value,
config and convergence from a study's records and hands them to the judge, and
:mod:`peftal.reports.claims_section` only registers the report section. Putting the judge above
``analysis`` instead would have split the grammar from it, or made ``experiments`` import upward.
"""
