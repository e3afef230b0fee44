"""Samplers: GGNS (gradient-guided nested sampling) and its parts, plus the dynesty peer."""

from agents.samplers.dynesty_peer import run_dynesty
from agents.samplers.evidence import EvidenceTracker
from agents.samplers.hss import HSSConfig, hamiltonian_slice_sampling
from agents.samplers.nested import GGNS, NestedSamplingResult, min_live_points

__all__ = [
    "GGNS",
    "EvidenceTracker",
    "HSSConfig",
    "NestedSamplingResult",
    "hamiltonian_slice_sampling",
    "min_live_points",
    "run_dynesty",
]
