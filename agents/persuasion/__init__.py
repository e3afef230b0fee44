"""Noisy Bayesian persuasion: optimal signalling LP and baseline schemes.

See ``/work/shared/specs/persuasion.md`` (§2 LP, §6 baselines).
"""

from __future__ import annotations

from agents.persuasion.baselines import (
    best_actions,
    full_reveal_scheme,
    no_signal_scheme,
    tag_only_scheme,
    threshold_flagging_scheme,
)
from agents.persuasion.signaling import (
    SignalingSolution,
    check_array,
    check_distribution,
    check_stochastic_matrix,
    check_utility,
    evaluate_scheme,
    obedience_slacks,
    predicted_weights,
    solve_signaling,
    validate_game,
)

__all__ = [
    "SignalingSolution",
    "best_actions",
    "check_array",
    "check_distribution",
    "check_stochastic_matrix",
    "check_utility",
    "evaluate_scheme",
    "full_reveal_scheme",
    "no_signal_scheme",
    "obedience_slacks",
    "predicted_weights",
    "solve_signaling",
    "tag_only_scheme",
    "threshold_flagging_scheme",
    "validate_game",
]
