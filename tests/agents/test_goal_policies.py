"""Goal-conditioned policies: relabelling sampler, shared network parts, Merlin (+NP) and the baselines."""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium
import numpy as np
import pytest
import torch
from scipy.stats import chisquare

import envs  # noqa: F401  (registers recast/*)
from agents.policies import (
    AGENTS,
    GoalConditionedPolicy,
    HorizonEmbedding,
    LatentStitcher,
    LearnerConfig,
    RelabelSampler,
    ReverseConfig,
    ReverseDynamics,
    RunningNormaliser,
    StitchConfig,
    WGCSLConfig,
    make_agent,
    offset_probabilities,
)
from agents.policies.merlin_np import debiased_info_nce
from envs.goals import PointReachEnv, build_dataset

SMALL = LearnerConfig(hidden=[32, 32], batch_size=64, lr=1e-3)
TINY_REVERSE = ReverseConfig(gru_hidden=8, gru_layers=1, dynamics_steps=3, dynamics_batch=8, cvae_hidden=8,
                             cvae_steps=3, cvae_batch=16)



@dataclass
class Labelled:
    """Trajectories whose achieved goal at (k, t) is (k, t) itself, so every draw can be decoded."""

    observations: np.ndarray
    achieved_goals: np.ndarray
    desired_goals: np.ndarray
    actions: np.ndarray


def labelled(n: int = 7, horizon: int = 6) -> Labelled:
    k, t = np.meshgrid(np.arange(n), np.arange(horizon + 1), indexing="ij")
    ag = np.stack([k, t], -1).astype(np.float32)
    desired = np.stack([k[:, :-1], np.full((n, horizon), -1)], -1).astype(np.float32)  # (k, −1)
    return Labelled(ag.copy(), ag, desired, ag[:, :-1].copy())


def test_offset_probabilities_count_triu_pairs() -> None:
    T = 9  # actions; T + 1 states
    pairs = [(i, j) for i in range(T + 1) for j in range(i + 1, T + 1)]
    counts = np.bincount([j - i for i, j in pairs], minlength=T + 1)[1:]
    np.testing.assert_allclose(offset_probabilities(T), counts / len(pairs))


def test_sampler_pairs_are_uniform_over_triu_indices_of_the_states() -> None:
    """Merlin's code draws (i, j) uniformly from triu_indices(T + 1, 1): chi-square against that law."""
    data, T = labelled(), 6
    batch = RelabelSampler(data, p_her=1.0, rng=np.random.default_rng(0)).sample(60_000)
    k, i, h = batch["trajectory"], batch["index"], batch["horizon"].astype(int)
    j = i + h
    assert batch["relabelled"].all()
    np.testing.assert_array_equal(batch["obs"], np.stack([k, i], -1))  # s_i of trajectory k
    np.testing.assert_array_equal(batch["action"], np.stack([k, i], -1))  # a_i
    np.testing.assert_array_equal(batch["goal"], np.stack([k, j], -1))  # g = ag_j
    np.testing.assert_array_equal(batch["next_obs"], np.stack([k, i + 1], -1))
    np.testing.assert_array_equal(batch["offset"], h)
    rows, cols = np.triu_indices(T + 1, 1)  # the official pair set, 21 pairs for T = 6
    observed = np.zeros((T + 1, T + 1))
    np.add.at(observed, (i, j), 1)
    assert observed.sum() == observed[rows, cols].sum()  # no draw outside the set
    assert observed[:, T].sum() > 0 and np.bincount(i, minlength=T)[T - 1] > 0  # final state a goal, a_{T−1} trained
    stat, p = chisquare(observed[rows, cols])  # uniform expected counts
    assert p > 1e-3, (stat, p)
    bad = RelabelSampler(data, 1.0, np.random.default_rng(0), pairs="uniform_t")  # a different law is rejected
    b = bad.sample(60_000)
    wrong = np.zeros((T + 1, T + 1))
    np.add.at(wrong, (b["index"], b["index"] + b["offset"]), 1)
    assert chisquare(wrong[rows, cols])[1] < 1e-10


def test_uniform_t_pairs_match_awgcsl() -> None:
    """WGCSL/GCSL (AWGCSL): i ~ U{0..T−1}, then j ~ U{i+1..T}: P(i, j) = 1 / (T (T − i))."""
    data, T = labelled(), 6
    b = RelabelSampler(data, 1.0, np.random.default_rng(2), pairs="uniform_t").sample(80_000)
    i, j = b["index"], b["index"] + b["offset"]
    rows, cols = np.triu_indices(T + 1, 1)
    observed = np.zeros((T + 1, T + 1))
    np.add.at(observed, (i, j), 1)
    expected = len(i) / (T * (T - rows))
    assert chisquare(observed[rows, cols], expected)[1] > 1e-3


def test_sampler_unrelabelled_uses_episode_goal_and_time_to_end() -> None:
    data, T = labelled(), 6
    batch = RelabelSampler(data, p_her=0.0, rng=np.random.default_rng(1)).sample(60_000)
    i = batch["index"]
    assert not batch["relabelled"].any()
    np.testing.assert_array_equal(batch["goal"], np.stack([batch["trajectory"], np.full_like(i, -1)], -1))
    np.testing.assert_array_equal(batch["desired"], batch["goal"])
    np.testing.assert_array_equal(batch["horizon"], T + 1 - i)  # the code's max_trajectory_length − i
    freq = np.bincount(i, minlength=T) / len(i)
    np.testing.assert_allclose(freq, (T - np.arange(T)) / (T * (T + 1) / 2), atol=0.01)  # P(i) ∝ T − i


def test_sampler_mixes_at_p_her_and_is_reproducible() -> None:
    data = labelled()
    a = RelabelSampler(data, 0.3, np.random.default_rng(5)).sample(20_000)
    b = RelabelSampler(data, 0.3, np.random.default_rng(5)).sample(20_000)
    assert abs(a["relabelled"].mean() - 0.3) < 0.015
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    with pytest.raises(ValueError, match="p_her"):
        RelabelSampler(data, 1.5, np.random.default_rng(0))


def test_horizon_embedding_and_normaliser() -> None:
    emb = HorizonEmbedding(32, max_period=50)(torch.tensor([0.0, 1.0, 49.0]))
    assert emb.shape == (3, 32)
    np.testing.assert_allclose(emb[0, :16], 1.0)  # cos(0)
    np.testing.assert_allclose(emb[0, 16:], 0.0)  # sin(0)
    np.testing.assert_allclose(emb[1, 0], math.cos(1.0), rtol=1e-6)  # ω_0 = 1
    np.testing.assert_allclose(emb[1, 15], math.cos(50 ** (-15 / 16)), rtol=1e-6)  # slowest ω = P^(−15/16)
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(3.0, 2.0, (100, 4)), rng.normal(-1.0, 0.5, (50, 4))
    norm = RunningNormaliser(4, clip=5.0)
    norm.update(x1)
    norm.update(x2)  # merging batches is exact
    both = np.concatenate([x1, x2])
    np.testing.assert_allclose(norm.mean.numpy(), both.mean(0), rtol=1e-5)
    np.testing.assert_allclose(norm.std.numpy(), both.std(0), rtol=1e-5)
    assert norm(torch.full((1, 4), 1e6)).max().item() == 5.0  # clipped


def test_policy_log_prob_and_bounds() -> None:
    torch.manual_seed(0)
    policy = GoalConditionedPolicy(3, 2, 2, hidden=[16], horizon_dim=8, max_action=0.5)
    obs, goal, h, a = torch.randn(10, 3), torch.randn(10, 2), torch.arange(1.0, 11.0), torch.rand(10, 2) - 0.5
    mu, sigma = policy(obs, goal, h)
    assert mu.abs().max() <= 0.5 and (sigma > 0).all()
    expected = torch.distributions.Normal(mu, sigma).log_prob(a).sum(-1)
    torch.testing.assert_close(policy.log_prob(obs, goal, h, a), expected)
    with pytest.raises(ValueError, match="horizon"):
        policy(obs, goal)
    assert policy.act(np.zeros(3), np.zeros(2), horizon=3).shape == (2,)
    assert not GoalConditionedPolicy(3, 2, 2, hidden=[16], horizon_dim=0).uses_horizon


def rollout_success(act, n: int = 100, seed: int = 99) -> float:
    vec = gymnasium.make_vec("recast/PointReach-v0", num_envs=n)
    obs, _ = vec.reset(seed=seed)
    for _ in range(50):
        obs, _, _, _, info = vec.step(act(obs["observation"], obs["desired_goal"]))
    return float(np.mean(info["is_success"]))


def test_merlin_learns_to_reach_in_the_open_arena() -> None:
    """A few hundred Merlin updates on *random* data: success far above a random policy's."""
    data = build_dataset(PointReachEnv(), "random", 300, seed=0)
    agent = make_agent("merlin", data, LearnerConfig(hidden=[64, 64], batch_size=256, lr=1e-3), seed=0)
    rng = np.random.default_rng(0)
    random_policy = rollout_success(lambda o, g: rng.uniform(-1, 1, (len(o), 2)))
    losses = [agent.update()["policy_loss"] for _ in range(400)]
    assert np.mean(losses[-50:]) < np.mean(losses[:50])
    merlin = rollout_success(agent.act)
    assert random_policy < 0.1 and merlin > random_policy + 0.5, (random_policy, merlin)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_trains_acts_and_is_seeded(name: str) -> None:
    env = PointReachEnv()
    data = build_dataset(env, "expert", 40, horizon=10, seed=0)
    stitch = StitchConfig(encoder_hidden=16, encoder_layers=1, encoder_steps=5, encoder_batch=32)
    reverse = TINY_REVERSE

    def losses(seed: int) -> list[float]:
        agent = make_agent(name, data, SMALL, stitch=stitch, reverse=reverse, reward_fn=env.compute_reward, seed=seed)
        out = [agent.update()["policy_loss"] for _ in range(5)]
        assert agent.act(np.zeros((3, 2)), np.ones((3, 2))).shape == (3, 2)
        return out

    first = losses(0)
    assert np.all(np.isfinite(first)) and first == losses(0) and first != losses(1)
    agent = make_agent(name, data, SMALL, stitch=stitch, reverse=reverse, reward_fn=env.compute_reward)
    expected = {"merlin": (True, SMALL.p_her, "triu"), "merlin_np": (True, SMALL.p_her, "triu"),
                "merlin_p": (True, SMALL.p_her, "triu"), "gcsl": (False, 1.0, "uniform_t"),
                "wgcsl": (False, 1.0, "uniform_t"), "gcbc": (False, 0.0, "uniform_t")}[name]
    assert (agent.policy.uses_horizon, agent.sampler.p_her, agent.sampler.pairs) == expected


def wgcsl_with_known_networks(keep_original: float = 0.2):
    """WGCSL whose critics are known linear maps and whose actors are constants (for hand computation)."""
    env = PointReachEnv()
    data = build_dataset(env, "random", 20, horizon=10, seed=0)
    agent = make_agent("wgcsl", data, SMALL, wgcsl=WGCSLConfig(keep_original=keep_original),
                       reward_fn=env.compute_reward, seed=0)
    weights = {"online": ([0.5, -1.0, 2.0, 0.25, 1.5, -0.75], 3.0), "target": ([-0.2, 0.4, 0.1, -1.0, 0.5, 2.0], -1.0)}
    biases = {"online": [0.3, -0.2], "target": [-0.6, 0.9]}
    for which, (w, b) in weights.items():
        linear = torch.nn.Linear(6, 1)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([w]))
            linear.bias.fill_(b)
        setattr(agent, "critic" if which == "online" else "critic_target", torch.nn.Sequential(linear))
        last = (agent.policy if which == "online" else agent.policy_target).net[-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.tensor(biases[which] + [0.0, 0.0]))
    return agent, weights, biases


def test_wgcsl_advantage_is_the_hand_computed_td_residual() -> None:
    """A = r + γ Q(s', μ(s', g), g) − Q(s, μ(s, g), g) with r = 1[‖ag' − g‖ ≤ 1] ∈ {0, 1} (AWGCSL)."""
    agent, weights, biases = wgcsl_with_known_networks()
    batch = agent.sample()
    tb = {k: torch.as_tensor(v) for k, v in batch.items() if k in agent.batch_keys}
    mean_s, std_s = agent.policy.obs_norm.mean.numpy(), agent.policy.obs_norm.std.numpy()
    mean_g, std_g = agent.policy.goal_norm.mean.numpy(), agent.policy.goal_norm.std.numpy()

    def q(which: str, s: np.ndarray, g: np.ndarray) -> np.ndarray:
        w, b = weights[which]
        x = np.concatenate([np.clip((s - mean_s) / std_s, -5, 5), np.clip((g - mean_g) / std_g, -5, 5),
                            np.broadcast_to(np.tanh(biases[which]), (len(s), 2))], axis=1)
        return x @ np.array(w) + b

    s, s2, g = batch["obs"], batch["next_obs"], batch["goal"]
    r = (np.linalg.norm(batch["next_achieved"] - g, axis=1) <= 1.0).astype(float)
    assert 0 < r.mean() < 1  # both rewards occur
    expected = r + 0.98 * q("online", s2, g) - q("online", s, g)
    np.testing.assert_allclose(agent.advantage(tb).numpy(), expected, rtol=1e-4, atol=1e-4)
    # the critic's TD target uses the *target* actor and critic, on goals 20 % of which are the episode's own
    gc = batch["critic_goal"]
    rc = (np.linalg.norm(batch["next_achieved"] - gc, axis=1) <= 1.0).astype(float)
    y = np.clip(rc + 0.98 * q("target", s2, gc), -50.0, 50.0)
    np.testing.assert_allclose(agent.critic_target_value(tb).numpy(), y, rtol=1e-4, atol=1e-4)
    own = [np.all(b["critic_goal"] == b["desired"], axis=1) for b in (agent.sample() for _ in range(60))]
    assert not any(np.all(b["goal"] == b["desired"], axis=1).any() for b in [batch])  # p_her = 1: all relabelled
    assert abs(np.mean(np.concatenate(own)) - 0.2) < 0.04


def test_wgcsl_weights_schedule_and_polyak() -> None:
    env = PointReachEnv()
    data = build_dataset(env, "random", 20, horizon=10, seed=0)
    agent = make_agent("wgcsl", data, SMALL, wgcsl=WGCSLConfig(beta=0.0, baw_max=0.0, gamma=0.9),
                       reward_fn=env.compute_reward)
    batch = agent.sample()
    assert set(np.unique(batch["reward"])) <= {0.0, 1.0}
    torch_batch = {k: torch.as_tensor(v) for k, v in batch.items() if k in agent.batch_keys}
    w = agent.weights(torch_batch)  # β = 0, no filter: w = γ^(j − i − 1) (AWGCSL's future_offset)
    torch.testing.assert_close(w, 0.9 ** (torch_batch["offset"].float() - 1))
    agent = make_agent("wgcsl", data, SMALL, reward_fn=env.compute_reward)  # q = min(0.15 n, 80) at batch n
    before = [p.detach().clone() for p in agent.critic_target.parameters()]
    agent.update()
    for old, new, online in zip(before, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * online.detach())  # Polyak 0.9 after each batch
    assert agent.baw_percentile == pytest.approx(0.15)
    for _ in range(9):
        agent.update()
    assert agent.baw_percentile == pytest.approx(1.5)
    agent.baw_percentile = 79.95
    agent.update()
    assert agent.baw_percentile == 80.0
    with pytest.raises(ValueError, match="reward_fn"):
        make_agent("wgcsl", data, SMALL)


def test_debiased_info_nce_by_hand() -> None:
    """The official InfoNCE: −mean log(e^{c_ii/τ} / (Σ_j e^{c_ij/τ} − e^{1/τ})) with cosines c_ij."""
    rng = np.random.default_rng(0)
    z, z2 = rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    c = (z / np.linalg.norm(z, axis=1, keepdims=True)) @ (z2 / np.linalg.norm(z2, axis=1, keepdims=True)).T
    e = np.exp(c / 0.5)
    negatives = e.sum(1) - np.exp(2.0)
    assert negatives.min() > 0  # the clamp is inactive here
    expected = -np.mean(np.log(np.diag(e) / (negatives + 1e-6)))
    got = debiased_info_nce(torch.as_tensor(z, dtype=torch.float64), torch.as_tensor(z2, dtype=torch.float64), 0.5)
    assert got.item() == pytest.approx(expected, rel=1e-9)


def test_stitching_follows_the_official_walk() -> None:
    data = build_dataset(PointReachEnv(), "random", 30, horizon=8, seed=0)

    def stitch(radius: float):
        cfg = StitchConfig(encoder_hidden=16, encoder_layers=1, encoder_steps=20, encoder_batch=32,
                           stitching_radius=radius)
        stitcher = LatentStitcher(2, cfg, torch.device("cpu"))
        stitcher.fit(data, np.random.default_rng(0))
        return stitcher, stitcher.stitch(data, 50, np.random.default_rng(1))

    stitcher, (copies, rate) = stitch(1.0 + 1e-6)  # similarity never exceeds 1: the walk stays put
    move = stitcher.moves(data)
    if rate == 0.0:  # (no exact duplicate states)
        np.testing.assert_array_equal(move, np.arange(len(move)))
        for traj in copies.observations:
            assert any(np.array_equal(traj, d) for d in data.observations)
    np.testing.assert_array_equal(copies.desired_goals, copies.achieved_goals[:, -1:].repeat(8, axis=1))
    assert len(copies.actions) == 50

    stitcher, (stitched, rate) = stitch(-1.0)  # always move to the second neighbour unless it starts a trajectory
    move = stitcher.moves(data)
    assert rate > 0.5 and np.all(move[move != np.arange(len(move))] % 9 != 0)
    steps = {tuple(np.r_[o, a, o2]) for o, a, o2 in zip(data.observations[:, :-1].reshape(-1, 2),
                                                         data.actions.reshape(-1, 2),
                                                         data.observations[:, 1:].reshape(-1, 2))}
    for traj, acts in zip(stitched.observations, stitched.actions):
        for t in range(8):  # each step's (s, a) is a real dataset transition; its s' is the walk's next state or a neighbour
            assert any(k[:4] == tuple(np.r_[traj[t], acts[t]]) for k in steps)


def linear_system(n: int, horizon: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                           np.ndarray]:
    """Trajectories of s_{t+1} = A s_t + B a_t (random actions) and the matrices A, B."""
    A, B = np.array([[0.9, 0.2], [-0.1, 0.95]]), np.array([[0.5, 0.0], [0.1, 0.3]])
    s, a = [rng.normal(0, 1, (n, 2))], rng.uniform(-1, 1, (n, horizon, 2))
    for t in range(horizon):
        s.append(s[-1] @ A.T + a[:, t] @ B.T)
    return np.stack(s, 1).astype(np.float32), a.astype(np.float32), A, B


def test_reverse_dynamics_fits_a_known_linear_system() -> None:
    """Merlin-P's GRU reverse model recovers s_t = A⁻¹(s_{t+1} − B a_t) on held-out trajectories."""
    torch.manual_seed(0)
    states, actions, A, B = linear_system(256, 6, np.random.default_rng(0))
    model = ReverseDynamics(2, 2, hidden=16, layers=1)
    losses = model.fit(states, actions, steps=150, batch=64, lr=1e-2, rng=np.random.default_rng(1))
    assert losses[-1] < 0.05 * losses[0]
    test_s, test_a, _, _ = linear_system(200, 6, np.random.default_rng(5))
    hidden = None
    for t in range(5, -1, -1):  # backwards, carrying the hidden state as in the rollout
        pred, hidden = model.step(t, torch.as_tensor(test_s[:, t + 1]), torch.as_tensor(test_a[:, t]), hidden)
        truth = (test_s[:, t + 1] - test_a[:, t] @ B.T) @ np.linalg.inv(A).T
        scale = np.linalg.norm(truth - test_s[:, t + 1], axis=1).mean()  # error of "no move" (Δ = 0)
        assert np.linalg.norm(pred.numpy() - truth, axis=1).mean() < 0.1 * scale, t


def test_merlin_p_rollouts_end_at_dataset_final_states() -> None:
    env = PointReachEnv()
    data = build_dataset(env, "random", 30, horizon=8, seed=0)
    agent = make_agent("merlin_p", data, SMALL, reverse=TINY_REVERSE, seed=0)
    syn = agent.synthetic
    assert syn.observations.shape == (30, 9, 2) and syn.actions.shape == (30, 8, 2) and agent.kept_rate == 1.0
    finals = {tuple(x) for x in np.concatenate([data.observations[:, -1], data.achieved_goals[:, -1]], 1)}
    assert all(tuple(x) in finals for x in np.concatenate([syn.observations[:, -1], syn.achieved_goals[:, -1]], 1))
    np.testing.assert_array_equal(syn.desired_goals, syn.achieved_goals[:, -1:].repeat(8, axis=1))
    assert np.abs(syn.actions).max() <= 1.0
    batch = agent.sample()
    assert len(batch["obs"]) == SMALL.batch_size  # half dataset, half synthetic
