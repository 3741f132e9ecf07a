"""Experiments: what a profile runs, cached by content hash and resumable.

Data and models:

- ``pairs``: the profile's data (preference splits, prompt sets, their statistics);
- ``reward_models``: the trained reward models (``ensure_orm``, ``ensure_reference``,
  ``ensure_prm``; ``trained_rm`` by role);
- ``judges``: the profile's HP judge, its identity for cache keys, its name, its independence;
- ``gold_lab``: the gold-reward lab's gold and its labelled pairs;
- ``gold_report``: what makes the gold a fair stand-in for a human rater (notebook 14).

Measurements:

- ``theorem_toy``: Theorem 1 on a toy with exhaustive ground truth (notebook 01);
- ``prefix_analysis``: the agreement rates of notebooks 02-06 and 11;
- ``decoding_tasks``: the decoding benchmarks of Tables 1-4 and their prompts;
- ``decoding``: run planning and the cached decoding runs and evaluations (notebooks 07-12);
- ``sharding``: one decoding run split over processes or cluster jobs (``--shard I/N``) and merged;
- ``decoding_tables``: the decoding tables with the paper's labels, next to the paper's;
- ``probe``: the prefix probe's numbers (notebook 13);
- ``recipe_study``: how good a CPU-sized ORM gets (the recipe study page);
- ``budget_study``: Fig. 5's effect by SP-PRM training budget, SP-PRM and SC side by side (the budget study page).

Claims:

- ``comparison``: the paper's numbers and claims (``paper_values.yaml``), side-by-side
  tables, and the verdict each notebook files (``record``);
- ``verdicts``: the rules that turn an estimate with its interval into a verdict;
- ``decoding_claims``: the statistics of the decoding claims (per-prompt paired effects).
"""

# reward_models registers the gold reward model's trainer with gold_lab (gold_lab labels the
# pairs that trainer learns from, so it cannot import it): importing any experiments module
# runs this first.
from sp_prm_lib.experiments import reward_models as _reward_models  # noqa: E402, F401
