"""A randomized differential test of the promise "an asset reported fresh holds what a
from-scratch build of the same files would give".

* :mod:`.constructs` — the Python building blocks assets are made of (constants of
  plain and non-plain types, helpers, classes, lambdas, closures, decorators, ...),
  each rendered as source text with a cosmetic style and editable parameters.
* :mod:`.generator` — a seeded random project (sources, Python and SQL assets) and
  random edits of it, rendered to files.
* :mod:`.runner` — writes the files, materializes incrementally and from scratch
  through the CLI in this process, and compares every asset's stored value.
"""
