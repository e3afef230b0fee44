"""The shared diffusion core: noise schedules, a Gaussian DDPM and a multinomial (categorical) diffusion.

Networks are not part of the core: each chain takes the network's prediction (ε̂ for the Gaussian chain,
logits of ê_0 for the categorical chain), so methods plug in their own denoisers (CDiff in
:mod:`agents.forecasters.cdiff`).
"""

from agents.diffusion.categorical import MultinomialDiffusion, gumbel_argmax
from agents.diffusion.gaussian import GaussianDiffusion
from agents.diffusion.schedules import SCHEDULES, NoiseSchedule, extract, linear_betas, make_schedule

__all__ = [
    "SCHEDULES",
    "GaussianDiffusion",
    "MultinomialDiffusion",
    "NoiseSchedule",
    "extract",
    "gumbel_argmax",
    "linear_betas",
    "make_schedule",
]
