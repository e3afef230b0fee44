"""Atari worlds: the Atari 100k protocol on ale-py, MinAtar rendered to the same 64 × 64 RGB, and HNS scoring.

``recast/Atari100k-v0`` (``game=``, ``mode="train"|"test"``) and ``recast/MinAtar-v0`` (``game=``) are
registered by ``envs``. The ale-py and minatar imports happen when an env is built (the ``atari`` extra).
"""

from envs.atari.scores import REFERENCE_SCORES, aggregate_hns, human_normalized

__all__ = ["REFERENCE_SCORES", "aggregate_hns", "human_normalized"]
