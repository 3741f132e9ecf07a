"""sp_prm_lib: the library of the SP-PRM companion (arXiv 2506.12446).

Modules, each with one job: ``profiles`` (sizes), ``settings`` (paths),
``artifacts`` (content-addressed cache), ``data`` (preference pairs and
prompt sets), ``models`` (policy, embedder, reward-model backbones).
"""

__version__ = "0.1.0"
