"""sp_prm_lib: the library of the SP-PRM companion (arXiv 2506.12446).

Layers, each importing only from the layers above it in this list (a test
enforces it):

- ``core``: errors, settings (paths), validation, bootstrap CIs, the artifact cache;
- ``config``: torch-free dataclasses for profiles, training, decoding methods, PRM variants;
- ``data``: preference pairs and prompt sets (mirror or hub);
- ``models``: loading the policy, embedder and reward backbones; chat templates; tiny test models;
- the paper's algorithms: ``scoring`` (reward inputs, ``RewardModel``), ``training``
  (truncation, the Bradley-Terry trainer), ``evaluation`` (agreement rates, text
  metrics), ``judge`` and ``decoding`` (ARGS-G, TBS/CBS, BoN, CARDS); none knows profiles;
- ``experiments``: what a profile runs and caches (pairs, reward models, analyses,
  decoding tables, the paper-vs-ours comparison, the probe's numbers);
- ``report``: tables, figures, the probe widget;
- entry points: ``cli`` (``sp-prm``) and ``notebook``.
"""

from sp_prm_lib.core.version import __version__

__all__ = ["__version__"]
