"""Sharpness-aware optimisers as drop-in ``torch.optim.Optimizer`` classes.

    from agents.optimizers import SAM, Lookahead, Lookbehind, MultistepSAM
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.05, adaptive=False, lr=0.1, momentum=0.9)

Every class offers ``step(closure)`` and the two-call form ``first_step`` / ``second_step``, works
with parameter groups and any base optimiser, and round-trips through ``state_dict`` /
``load_state_dict`` (including the base optimiser's state). ASAM's official weights-only rule:
``SAM(asam_param_groups(model.named_parameters()), torch.optim.SGD, rho=0.5, adaptive=True, lr=0.1)``.
BatchNorm running statistics from the unperturbed pass only (davda54's convention):
``opt.step(first_pass_stats_only(model, closure))`` or ``with frozen_running_stats(model): ...``.
"""

from __future__ import annotations

from agents.optimizers.batchnorm import first_pass_stats_only, frozen_running_stats
from agents.optimizers.lookahead import Lookahead
from agents.optimizers.lookbehind import Lookbehind
from agents.optimizers.multistep import MultistepSAM
from agents.optimizers.sam import ASAM_RULES, SAM, asam_param_groups

__all__ = ["ASAM_RULES", "SAM", "Lookahead", "Lookbehind", "MultistepSAM", "asam_param_groups",
           "first_pass_stats_only", "frozen_running_stats"]
