"""The gold-reward lab's "human": a known function g(x, y) of any text, full or partial.

``GoldReward`` scores responses (and every prefix of them) like a reward
model, so the same code uses it as a labeller of preference pairs
(``labels``), as a judge of prefixes and outputs (``sp_prm_lib.judge``'s
``gold`` backend) and as an evaluator of reward models.
"""

from sp_prm_lib.gold.labels import GoldLabels, gold_labels, label_ceiling
from sp_prm_lib.gold.reward import GoldReward

__all__ = ["GoldLabels", "GoldReward", "gold_labels", "label_ceiling"]
