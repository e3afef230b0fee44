"""Noisy Bayesian persuasion: optimal signalling LP and baseline schemes.

See ``/work/shared/specs/persuasion.md`` (§2 LP, §6 baselines, §10 robust and personalised schemes).
"""

from __future__ import annotations

from agents.persuasion.baselines import (
    best_actions,
    full_reveal_scheme,
    no_signal_scheme,
    tag_only_scheme,
    threshold_flagging_scheme,
)
from agents.persuasion.robust import (
    InfeasibleSchemeError,
    check_type_weights,
    check_user_priors,
    posterior_slacks,
    solve_personalized_signaling,
    solve_public_population_signaling,
    solve_robust_signaling,
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
    "InfeasibleSchemeError",
    "SignalingSolution",
    "best_actions",
    "check_array",
    "check_distribution",
    "check_stochastic_matrix",
    "check_type_weights",
    "check_user_priors",
    "check_utility",
    "evaluate_scheme",
    "full_reveal_scheme",
    "no_signal_scheme",
    "obedience_slacks",
    "posterior_slacks",
    "predicted_weights",
    "solve_personalized_signaling",
    "solve_public_population_signaling",
    "solve_robust_signaling",
    "solve_signaling",
    "tag_only_scheme",
    "threshold_flagging_scheme",
    "validate_game",
]
