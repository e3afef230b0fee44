"""Samplers: GGNS (gradient-guided nested sampling) and its parts, plus the dynesty peer."""

from agents.samplers.dynesty_peer import run_dynesty
from agents.samplers.evidence import EvidenceTracker
from agents.samplers.hss import HSSConfig, galilean_slice_sampling, hamiltonian_slice_sampling, shrunk_covariance
from agents.samplers.nautilus_peer import run_nautilus
from agents.samplers.nested import GGNS, KERNELS, NestedSamplingResult, min_live_points

__all__ = [
    "GGNS",
    "KERNELS",
    "EvidenceTracker",
    "HSSConfig",
    "NestedSamplingResult",
    "galilean_slice_sampling",
    "hamiltonian_slice_sampling",
    "min_live_points",
    "run_dynesty",
    "run_nautilus",
    "shrunk_covariance",
]
