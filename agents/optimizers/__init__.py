"""Sharpness-aware optimisers as drop-in ``torch.optim.Optimizer`` classes.

    from agents.optimizers import SAM, Lookahead, Lookbehind, MultistepSAM
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, adaptive=False, lr=0.1, momentum=0.9)

Every class offers ``step(closure)`` and the two-call form ``first_step`` / ``second_step``, works
with parameter groups and any base optimiser, and round-trips through ``state_dict`` /
``load_state_dict`` (including the base optimiser's state).
"""

from __future__ import annotations

from agents.optimizers.lookahead import Lookahead
from agents.optimizers.lookbehind import Lookbehind
from agents.optimizers.multistep import MultistepSAM
from agents.optimizers.sam import SAM

__all__ = ["SAM", "Lookahead", "Lookbehind", "MultistepSAM"]
