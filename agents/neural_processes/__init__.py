"""Neural processes with constant-memory conditioning (CMAB/CMANP, Feng et al. ICML 2024) and baselines.

    model = CMANP(dim_x=1, dim_y=1, num_layers=2, num_latents=32, num_latents_per_layer=32, block_size=64)
    ctx = model.condition(xc, yc)               # constant memory in N (blocks of 64)
    ctx = model.update(ctx, x_new, y_new)       # exact streaming update
    pred = model.predict(ctx, xt)               # torch Normal, (B, M, d_y)
"""

from agents.neural_processes.bandit import LinearThompsonSampling, NPThompsonSampling, UniformPolicy, arm_inputs
from agents.neural_processes.base import GaussianHead, History, NeuralProcess
from agents.neural_processes.baselines import ANP, CNP, TNPD
from agents.neural_processes.cmab import CMAB, CMABContext, CMABEncoder
from agents.neural_processes.cmanp import CMANP, CMANPAND
from agents.neural_processes.layers import Attention, AttentionState

MODELS = {"cmanp": CMANP, "cmanp_and": CMANPAND, "cnp": CNP, "anp": ANP, "tnpd": TNPD}
LABELS = {"cmanp": "CMANP", "cmanp_and": "CMANP-AND", "cnp": "CNP", "anp": "ANP", "tnpd": "TNP-D"}

__all__ = ["ANP", "CMAB", "CMANP", "CMANPAND", "CNP", "LABELS", "MODELS", "TNPD", "Attention", "AttentionState",
           "CMABContext", "CMABEncoder", "GaussianHead", "History", "LinearThompsonSampling", "NPThompsonSampling",
           "NeuralProcess", "UniformPolicy", "arm_inputs"]
