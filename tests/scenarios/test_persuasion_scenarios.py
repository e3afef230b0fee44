"""The persuasion scenarios: analytic vs simulated agreement, the performative map's fixed points."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.social import SocialGame, performative_update
from scenarios.persuasion.common import SENDERS, GameConfig
from scenarios.persuasion.performative import run_dynamics
from scenarios.run import execute


@pytest.fixture(scope="module")
def single_round(tmp_path_factory):
    return execute("misinformation_single_round", preset="smoke", runs_root=tmp_path_factory.mktemp("runs"),
                   show_progress=False, overrides=["n_seeds=4"])


def test_single_round_lp_beats_baselines_and_simulation_matches_analytic(single_round) -> None:
    assert single_round["status"] == "complete"
    m = single_round["metrics"]
    lp = m["optimal_p_share_and_misinformation"]
    assert lp < m["no_signal_p_share_and_misinformation"] and lp < m["full_reveal_p_share_and_misinformation"]
    for baseline in ("no_signal", "full_reveal", "tag_only"):  # obedient baselines: the LP's value is never lower
        assert m["optimal_platform_utility"] >= m[f"{baseline}_platform_utility"] - 1e-9
    assert m["analytic_covered_fraction"] >= 0.8  # simulated 95 % CIs cover the analytic values
    assert abs(m["optimal_simulated_p_share_and_misinformation"] - lp) < 0.03
    assert [row["policy"] for row in single_round["table"]] == list(SENDERS)


def test_single_round_writes_figures_and_tables(single_round) -> None:
    from pathlib import Path

    run_dir = Path(single_round["run_dir"])
    for name in ("misinformation_vs_accuracy.png", "platform_utility_vs_accuracy.png", "table.md",
                 "comparison.csv", "analytic.csv", "simulated.csv", "garbling_chain.png", "garbling_chain.csv"):
        assert (run_dir / name).stat().st_size > 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["config"]["n_seeds"] == 4


def test_performative_fixed_point_is_a_fixed_point() -> None:
    base = GameConfig().build()
    traj = run_dynamics(base, 0.5, "resolve", max_rounds=200, tol=1e-10)
    assert traj.converged_at is not None
    mu = traj.priors[-1]
    from scenarios.persuasion.common import optimal_scheme

    game = base.with_prior(mu)
    nxt, _ = performative_update(mu, base.prior, game.outcomes(optimal_scheme(game)).share_given_state, 0.5)
    assert np.abs(nxt - mu).max() < 1e-9
    # performative feedback erodes persuasion on the default instance (spec §5.4)
    assert traj.misinformation[-1] > traj.misinformation[0] + 0.05


def test_perfect_classifier_without_engagement_never_shares_misinformation() -> None:
    base = GameConfig(engagement_weight=0.0).build(accuracy=1.0)
    assert np.allclose(base.confusion, np.eye(4))
    for eta in (0.25, 1.0):
        traj = run_dynamics(base, eta, "resolve", max_rounds=100, tol=1e-10)
        assert np.all(traj.misinformation <= 1e-12)


def test_no_intervention_is_the_prior_optimal_action_every_round() -> None:
    base: SocialGame = GameConfig().build()
    traj = run_dynamics(base, 0.5, "none", max_rounds=50, tol=1e-10)
    assert traj.converged_at == 1  # popular content dominates: everybody shares, the prior stays μ_base
    assert traj.misinformation[0] == pytest.approx(base.prior @ base.misinformation)


@pytest.mark.parametrize("override", ["eta=0", "eta=1.5", "game.prior=[0.5,0.5,0.5,0.5]", "accuracies=[1.2]",
                                      "network.graph=ring", "policies=[oracle]", "sensitivity.spreads=[0.02,0.5]",
                                      "sensitivity.n_types=0", "sensitivity.slack=-0.1", "optimum_slack=nan",
                                      "optimum_starts=-1", "sensitivity.spreads=[]", "network.graph=twitter",
                                      "network.graph_file=/no/such/file.txt", "networks.graph_files=[/no/file.graphml]",
                                      "networks.belief_rate=0", "networks.policies=[oracle]",
                                      "fixed_point_deltas=[0.5]", "networks.settle_rounds=100", "garbling_strength=0"])
def test_invalid_values_are_usage_errors(override, tmp_path) -> None:
    from scenarios.errors import UsageError

    single = override.startswith(("policies", "network.", "garbling"))
    name = "misinformation_single_round" if single else "misinformation_performative"
    with pytest.raises(UsageError, match=override.split("=")[0].split(".")[-1]):
        execute(name, preset="smoke", runs_root=tmp_path, overrides=[override], show_progress=False)
    assert not any(tmp_path.iterdir())  # nothing written for bad input


# ---------------------------------------------------------------- issue 16: knife edge, fixes, performative optimum
@pytest.fixture(scope="module")
def performative(tmp_path_factory):
    return execute("misinformation_performative", preset="smoke", runs_root=tmp_path_factory.mktemp("runs"),
                   show_progress=False, overrides=["etas=[0.5]", "accuracies=[0.8]", "n_perturbations=1",
                                                   "simulate=false", "sensitivity.spreads=[1e-6,0.05]"])


def test_knife_edge_and_what_fixes_it(performative) -> None:
    """At a 1e-6 prior spread the LP optimum loses its effect on the users pushed toward popular content;
    the ε-slack, robust and personalised schemes keep (almost) the one-shot value."""
    assert performative["status"] == "complete"
    from pathlib import Path

    import pandas as pd

    frame = pd.read_csv(Path(performative["run_dir"]) / "sensitivity_analytic.csv")
    total = frame[frame["type"] == "all"].set_index(["spread", "policy"])
    tiny = total.loc[1e-6]
    assert tiny.loc["optimal", "p_share_and_misinformation"] > 0.09          # ≥ 1 of 4 types shares all: +0.067
    for fix in ("slack", "robust", "personalised"):
        assert tiny.loc[fix, "p_share_and_misinformation"] < 0.032
    wide = total.loc[0.05]
    for policy in ("optimal", "slack", "robust", "full_reveal", "no_signal"):   # the private LP bounds them all
        assert wide.loc["personalised", "platform_utility"] >= wide.loc[policy, "platform_utility"] - 1e-12
    for spread in (1e-6, 0.05):  # common recommendation ≤ optimal public profile scheme ≤ private signals
        u = total.loc[spread, "platform_utility"]
        assert u["robust"] - 1e-12 <= u["public_optimal"] <= u["personalised"] + 1e-12
    rows = [r for r in performative["table"] if r["setting"].startswith("one round")]
    assert len(rows) == 2 * 7 and {"mis-share Mesa", "utility Mesa"} <= set(rows[0])


def test_performative_optimum_beats_the_stable_platform(performative) -> None:
    m = performative["metrics"]
    assert m["optimal_final_utility"] == pytest.approx(m["optimal_stationary_utility"], abs=1e-9)  # reached
    assert m["optimal_minus_stable_utility"] > 0.05                          # −0.055 vs −0.123 on this instance
    assert m["optimal_final_utility"] >= m["optimal_slack_final_utility"] > m["resolve_final_utility"]
    assert m["optimal_slack_final_utility"] == pytest.approx(m["optimal_slack_stationary_utility"], abs=1e-9)
    policies = [r["policy"] for r in performative["table"] if r["setting"].startswith("performative")]
    assert policies == ["resolve (stable)", "fixed round-0", "none", "performative optimum", "perf. optimum ε=0.01"]


def test_coverage_statistic_rejects_a_wrong_simulator_and_skips_zero_variance_cells(single_round) -> None:
    from pathlib import Path

    import pandas as pd

    from scenarios.persuasion.single_round import METRICS, coverage

    agg = pd.read_csv(Path(single_round["run_dir"]) / "comparison.csv")
    honest = coverage(agg)
    assert honest["analytic_covered_fraction"] >= 0.8 and honest["zero_variance_cells"] > 0
    assert honest["zero_variance_exact_fraction"] == 1.0  # e.g. no signal: P(share) = 1 in every replicate
    wrong = agg.copy()
    for m in METRICS:  # a simulator that is off by 0.1 everywhere (smoke CIs are ±0.04–0.06 wide)
        wrong[f"{m}_mean"] += 0.1
    bad = coverage(wrong)
    assert bad["analytic_covered_fraction"] < 0.05 and bad["zero_variance_exact_fraction"] == 0.0
    assert bad["zero_variance_cells"] == honest["zero_variance_cells"]  # counted, never as covered
    degenerate = agg.assign(**{f"{m}_ci95": 0.0 for m in METRICS})  # identical replicates everywhere
    assert np.isnan(coverage(degenerate)["analytic_covered_fraction"])


# ---------------------------------------------------------------- issue 16: networks that matter, §5.3, garbling
def test_garbling_chain_never_raises_the_optimal_value(single_round) -> None:
    m = single_round["metrics"]
    assert m["garbling_max_value_increase"] <= 1e-9                  # Blackwell: a theorem, checked on the run
    assert m["garbling_no_signal_value"] - 1e-9 <= m["garbling_end_value_mean"] <= m["garbling_start_value"]
    assert m["garbling_start_value"] == pytest.approx(m["optimal_platform_utility"])


def test_graph_families_in_the_headline_table(performative) -> None:
    rows = [r for r in performative["table"] if r["setting"].startswith("network")]
    families = {r["setting"].split(":")[0] for r in rows}
    assert families == {"network barabasi_albert", "network karate_club",
                        "network no cascade (seed exposures only)"}
    assert len(rows) == 3 * 3 and {"mis views/post Mesa", "reach utility/post Mesa"} <= set(rows[0])
    m = performative["metrics"]
    assert m["network_karate_club_none_misinformation_views"] > m["network_no_cascade_none_misinformation_views"]
    from pathlib import Path

    import pandas as pd

    run_dir = Path(performative["run_dir"])
    assert (run_dir / "network_families.png").stat().st_size > 0
    rounds = pd.read_csv(run_dir / "network_rounds.csv")
    control = rounds[rounds.family.str.startswith("no cascade")]
    assert (control.views_per_post == 1.0).all()                     # seed exposures only: one view per post
    from scenarios.persuasion.performative import CLAIM

    network_rule = CLAIM.rules[2].judge(performative["table"], run_dir)  # paired over the seeds of the BA graph
    assert "paired over 2 seeds" in network_rule.evidence


def test_fixed_point_sensitivity_to_mu_base_and_q(performative) -> None:
    """§5.3 on the reference instance (δ = 0.02): the fixed point attracts perturbations of itself; moving
    μ_base or Q moves the fixed point continuously (by less than 3δ here, measured: 1.7δ and 0.9δ)."""
    m = performative["metrics"]
    assert m["perturbed_fixed_point_max_distance"] < 1e-6 and m["perturbed_fixed_point_converged_fraction"] == 1.0
    for key in ("base_prior", "classifier"):
        assert m[f"perturbed_{key}_converged_fraction"] == 1.0
        assert 0.0 < m[f"perturbed_{key}_max_distance"] < 3 * 0.02


@pytest.mark.parametrize("text", ["0 1\n2\n", "<graphml><graph"])
def test_malformed_graph_file_is_a_usage_error_before_the_run_directory(tmp_path, text) -> None:
    from scenarios.errors import UsageError

    bad = tmp_path / ("bad.graphml" if text.startswith("<") else "bad.txt")
    bad.write_text(text)
    runs = tmp_path / "runs"
    for override in (f"network.graph_file={bad}", f"networks.graph_files=[{bad}]"):
        with pytest.raises(UsageError, match="graph_file") as err:
            execute("misinformation_performative", preset="smoke", runs_root=runs, overrides=[override],
                    show_progress=False)
        assert "\n" not in str(err.value) and str(bad) in str(err.value)
    assert not runs.exists() or not any(runs.iterdir())


def test_a_graph_file_is_the_simulated_network(tmp_path) -> None:
    import networkx as nx

    path = tmp_path / "florentine.graphml"
    nx.write_graphml(nx.florentine_families_graph(), path)
    result = execute("misinformation_single_round", preset="smoke", runs_root=tmp_path / "runs", show_progress=False,
                     overrides=[f"network.graph_file={path}", "accuracies=[0.8]", "policies=[optimal,no_signal]",
                                "garbling_chains=1", "garbling_steps=1"])
    assert result["status"] == "complete"
    assert result["metrics"]["optimal_simulated_p_share_and_misinformation"] < 0.3


def test_hull_vertices_suffice_for_robust_obedience() -> None:
    """The network section's robust platform imposes obedience only at the vertices of the users' beliefs'
    convex hull; every belief (a convex combination of them) must then obey too (checked by best responses)."""
    from agents.persuasion import solve_robust_signaling
    from envs.social import best_response
    from scenarios.persuasion.networks import hull_vertices

    game = GameConfig().build()
    rng = np.random.default_rng(0)
    beliefs = game.prior + 0.03 * (rng.dirichlet(np.ones(4), size=300) - 0.25)
    vertices = hull_vertices(beliefs)
    assert 4 < len(vertices) < 60
    scheme = solve_robust_signaling(game.prior, game.user_utility, game.platform_utility, game.confusion,
                                    user_priors=vertices).scheme
    actions = best_response(beliefs, game.confusion, scheme, game.user_utility)
    sent = (game.prior @ game.confusion @ scheme) > 1e-12               # recommendations that are ever sent
    assert np.all(actions[:, sent] == np.arange(2)[sent])
    assert np.array_equal(hull_vertices(np.tile(game.prior, (5, 1))), game.prior[None])  # degenerate cloud
