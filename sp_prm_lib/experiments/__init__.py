"""Experiments: what a profile runs, cached by content hash and resumable.

``pairs`` (a profile's data), ``reward_models`` (``ensure_orm``, ``ensure_prm``, ...),
``prefix_analysis`` (agreement rates of notebooks 02-06), ``decoding`` (the decoding
tables), ``comparison`` (the paper's numbers and the verdicts), ``probe`` (the prefix
probe's numbers), ``theorem_toy`` (Theorem 1 on a toy with exhaustive ground truth).
"""
