"""Goal-reaching envs (point arena, four rooms, reacher, Fetch if installed) and the offline dataset files."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.goals import (
    GOAL_ENV_IDS,
    MUJOCO_ENV_IDS,
    GoalDataset,
    PointReachEnv,
    PointRoomsEnv,
    ReacherGoalEnv,
    build_dataset,
    from_awgcsl,
    load_dataset,
)
from envs.goals.fetch import AVAILABLE as HAS_ROBOTICS
from envs.goals.four_rooms import WALL_MARGIN

WORLDS = (PointReachEnv, PointRoomsEnv, ReacherGoalEnv)


@pytest.mark.parametrize("env_id", GOAL_ENV_IDS)
def test_check_env(env_id: str) -> None:
    env = gymnasium.make(env_id)
    check_env(env.unwrapped)
    assert env.spec.max_episode_steps == 50
    env.close()


@pytest.mark.skipif(not HAS_ROBOTICS, reason="gymnasium-robotics (optional extra 'robotics') not installed")
@pytest.mark.parametrize("env_id", MUJOCO_ENV_IDS)
def test_check_env_mujoco(env_id: str) -> None:
    env = gymnasium.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)  # rendering needs an OpenGL context (none on CI)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    assert env.spec.max_episode_steps == 50
    obs, reward, _, _, info = env.step(env.action_space.sample())
    assert reward == float(env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], None))
    assert info["is_success"] == reward + 1.0


# Noise-free scripted experts over 20 resets, floors below the measured rates (FetchReach 1.0, FetchPush 0.9 on
# 30 resets, MuJoCo reacher 1.0), against random actions that almost never succeed on Reach/reacher.
@pytest.mark.skipif(not HAS_ROBOTICS, reason="gymnasium-robotics (optional extra 'robotics') not installed")
@pytest.mark.parametrize("env_id, floor", [("recast/FetchReach-v0", 0.95), ("recast/FetchPush-v0", 0.7),
                                           ("recast/MujocoReacherGoal-v0", 0.95)])
def test_mujoco_scripted_experts_reach_goals(env_id: str, floor: float) -> None:
    env = gymnasium.make(env_id)
    expert, random = [], []
    for seed in range(20):
        for policy, store in ((env.unwrapped.expert_action_from_obs, expert), (None, random)):
            obs, _ = env.reset(seed=seed)
            env.action_space.seed(seed)
            for _ in range(50):
                action = policy(obs) if policy else env.action_space.sample()
                obs, _, _, _, info = env.step(action)
            store.append(info["is_success"])
    assert np.mean(expert) >= floor, (env_id, np.mean(expert))
    assert np.mean(expert) > np.mean(random) + 0.3, (env_id, np.mean(expert), np.mean(random))


@pytest.mark.parametrize("env_id", GOAL_ENV_IDS)
def test_rewards_recomputed_from_goals(env_id: str) -> None:
    """Step rewards equal the vectorised compute_reward on the logged (ag, g), and is_success = r + 1."""
    env = gymnasium.make(env_id)
    obs, _ = env.reset(seed=3)
    env.action_space.seed(3)
    ags, goals, rewards, success = [], [], [], []
    for _ in range(50):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        ags.append(obs["achieved_goal"])
        goals.append(obs["desired_goal"])
        rewards.append(reward)
        success.append(info["is_success"])
    assert truncated and not terminated
    batch = env.unwrapped.compute_reward(np.array(ags), np.array(goals), None)
    np.testing.assert_array_equal(batch, rewards)
    np.testing.assert_array_equal(np.array(success) - 1.0, rewards)
    # a goal on the achieved goal gives 0, one far away −1 (any batch shape)
    ag = np.array(ags).reshape(5, 10, -1)
    np.testing.assert_array_equal(env.unwrapped.compute_reward(ag, ag, None), np.zeros((5, 10)))
    np.testing.assert_array_equal(env.unwrapped.compute_reward(ag, ag + 10.0, None), -np.ones((5, 10)))


@pytest.mark.parametrize("env_id", GOAL_ENV_IDS)
def test_seeding_reproduces_episodes(env_id: str) -> None:
    def episode(seed: int) -> np.ndarray:
        env = gymnasium.make(env_id)
        obs, _ = env.reset(seed=seed)
        actions = np.random.default_rng(0).uniform(-1, 1, (20, env.action_space.shape[0])).astype(np.float32)
        return np.concatenate([obs["desired_goal"]] + [env.step(a)[0]["observation"] for a in actions])

    np.testing.assert_array_equal(episode(7), episode(7))
    assert not np.array_equal(episode(7), episode(8))


@pytest.mark.parametrize("world", WORLDS)
def test_scripted_expert_reaches_goals(world: type) -> None:
    env, rng = world(), np.random.default_rng(0)
    state, goal = env.sample_states(rng, 200), env.sample_goals(rng, 200)
    for _ in range(50):
        action = env.expert_action(state, goal)
        assert np.all(np.abs(action) <= 1.0)
        state = env.dynamics(state, action)
    assert np.mean(env.goal_distance(env.achieved(state), goal) <= env.distance_threshold) > 0.97


def test_official_radii() -> None:
    """Merlin/WGCSL's Point2DLargeEnv-v1 and Point2D-FourRoom-v1 both use target_radius = 1."""
    assert PointReachEnv().distance_threshold == 1.0 and PointRoomsEnv().distance_threshold == 1.0
    assert gymnasium.make("recast/PointRooms-v0").unwrapped.layout == "official"
    env = PointReachEnv()
    assert env.compute_reward(np.array([0.0, 0.99]), np.zeros(2)) == 0.0
    assert env.compute_reward(np.array([0.0, 1.01]), np.zeros(2)) == -1.0
    assert PointRoomsEnv(layout="thin").distance_threshold == 0.5  # the earlier, harder variant


def test_four_rooms_official_geometry() -> None:
    """four-room-v1 with L = 5, ball radius 0.5, wall thickness 0.3: each wall's centre line
    (0.17·L = 0.85 central half-length, stubs from 1.05·L = 5.25) padded by 0.5 + 0.3 = 0.8."""
    env = PointRoomsEnv()
    expected = np.array([
        [-6.8, -4.45, -0.8, 0.8], [-1.65, 1.65, -0.8, 0.8], [4.45, 6.8, -0.8, 0.8],  # on y = 0
        [-0.8, 0.8, 4.45, 6.8], [-0.8, 0.8, -1.65, 1.65], [-0.8, 0.8, -6.8, -4.45],  # on x = 0
    ])
    np.testing.assert_allclose(env.boxes, expected)
    np.testing.assert_allclose([env.door_center, 2 * env.door_half_width], [3.05, 2.8])  # 2.8-wide openings
    inside = np.array([[0.0, 0.0], [1.6, 0.0], [0.0, -1.6], [4.9, 0.5], [-0.5, 4.6]])
    outside = np.array([[3.05, 0.0], [0.0, 3.05], [1.0, 1.0], [4.4, 0.0], [1.7, 0.0]])
    assert env.inside_wall(inside).all() and not env.inside_wall(outside).any()
    assert not env.inside_wall(env.sample_states(np.random.default_rng(0), 5000)).any()


def test_four_rooms_official_collisions() -> None:
    env = PointRoomsEnv()
    start = np.array([[-3.0, 1.5], [-1.0, 1.5], [2.0, 2.0], [2.0, 1.0], [4.8, 1.5], [3.05, 0.5]])
    action = np.array([[0.0, -1.0], [0.0, -1.0], [-1.0, -1.0], [-1.0, -0.5], [0.0, -1.0], [0.0, -1.0]])
    moved = env.dynamics(start, action)
    np.testing.assert_allclose(moved[0], [-3.0, 0.5])  # in the opening at x = −3: free
    np.testing.assert_allclose(moved[1], [-1.0, 0.81])  # onto the cross's top side y = 0.8: stops 0.01 above
    np.testing.assert_allclose(moved[2], [1.0, 1.0])  # into the notch of the cross: free
    # bounding-box rule: the move's box meets the top (y = 0.8) and right (x = 1.65) sides: both stop it
    np.testing.assert_allclose(moved[3], [1.66, 0.81])
    np.testing.assert_allclose(moved[4], [4.8, 0.81])  # onto the stub's top side
    np.testing.assert_allclose(moved[5], [3.05, -0.5])  # through the opening
    rng = np.random.default_rng(1)  # invariant: a random walk never ends inside a wall
    state = env.sample_states(rng, 2000)
    for _ in range(30):
        state = env.dynamics(state, rng.uniform(-1, 1, state.shape))
        assert not env.inside_wall(state).any() and np.abs(state).max() <= 5.0


def test_four_rooms_thin_walls_block_except_doorways() -> None:
    env = PointRoomsEnv(layout="thin")
    start = np.array([[-0.5, 1.0], [-0.5, 2.5], [1.0, -0.4], [-2.5, -0.5], [0.5, 0.5]])
    action = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [-1.0, -1.0]])
    moved = env.dynamics(start, action)
    np.testing.assert_allclose(moved[0], [-WALL_MARGIN, 1.0])  # wall x = 0 at y = 1: blocked
    np.testing.assert_allclose(moved[1], [0.5, 2.5])  # doorway at y = 2.5: passes
    np.testing.assert_allclose(moved[2], [1.0, -WALL_MARGIN])  # wall y = 0 at x = 1: blocked
    np.testing.assert_allclose(moved[3], [-2.5, 0.5])  # doorway at x = −2.5: passes
    np.testing.assert_allclose(moved[4], [WALL_MARGIN, WALL_MARGIN])  # the centre: both walls block
    # invariant: a long random walk never crosses a wall outside a doorway
    rng = np.random.default_rng(1)
    state = env.sample_states(rng, 2000)
    for _ in range(30):
        new = env.dynamics(state, rng.uniform(-1, 1, state.shape))
        for axis in (0, 1):
            crossed = (state[:, axis] >= 0) != (new[:, axis] >= 0)
            t = -state[crossed, axis] / (new[crossed, axis] - state[crossed, axis])
            at = state[crossed, 1 - axis] + t * (new[crossed, 1 - axis] - state[crossed, 1 - axis])
            assert np.all(env.in_door(at))
        state = new
    with pytest.raises(ValueError, match="layout"):
        PointRoomsEnv(layout="maze")


def test_reacher_kinematics() -> None:
    env = ReacherGoalEnv()
    straight = np.zeros((1, 4))
    np.testing.assert_allclose(env.achieved(straight), [[0.21, 0.0]])
    folded = np.array([[np.pi / 2, np.pi / 2, 0.0, 0.0]])  # up, then left
    np.testing.assert_allclose(env.achieved(folded), [[-0.11, 0.1]], atol=1e-12)
    goals = env.sample_goals(np.random.default_rng(0), 500)
    assert np.all(np.linalg.norm(goals, axis=1) <= env.goal_radius)
    for sign in (1.0, -1.0):
        joints = env.inverse_kinematics(goals, np.full(500, sign))
        tips = env.achieved(np.concatenate([joints, np.zeros((500, 2))], axis=1))
        reachable = np.linalg.norm(goals, axis=1) >= env.l2 - env.l1
        np.testing.assert_allclose(tips[reachable], goals[reachable], atol=1e-9)


@pytest.mark.parametrize("env_id", GOAL_ENV_IDS)
def test_vector_env_matches_dynamics_and_autoresets(env_id: str) -> None:
    vec = gymnasium.make_vec(env_id, num_envs=4)
    single = gymnasium.make(env_id).unwrapped
    obs, _ = vec.reset(seed=0)
    assert vec.observation_space.contains(obs)
    actions = np.random.default_rng(0).uniform(-1, 1, (51, 4, vec.single_action_space.shape[0]))
    for t in range(51):
        state = vec.unwrapped._state.copy()
        obs, reward, terminated, truncated, info = vec.step(actions[t])
        if t < 50:
            np.testing.assert_allclose(vec.unwrapped._state, single.dynamics(state, actions[t]))
            np.testing.assert_array_equal(reward, single.compute_reward(obs["achieved_goal"], obs["desired_goal"]))
        assert truncated.all() == (t == 49) and not terminated.any()
    np.testing.assert_array_equal(reward, 0.0)  # step 51 is the autoreset step


# ------------------------------------------------------------------ datasets


@pytest.mark.parametrize("world", WORLDS)
def test_built_dataset_follows_the_dynamics(world: type) -> None:
    env = world()
    data = build_dataset(env, "random", 30, horizon=10, seed=0)
    assert data.observations.shape == (30, 11, env.obs_dim) and data.actions.shape == (30, 10, env.act_dim)
    assert data.desired_goals.shape == (30, 10, env.goal_dim)
    assert all(a.dtype == np.float32 for a in data.arrays().values())
    np.testing.assert_array_equal(data.desired_goals, data.desired_goals[:, :1].repeat(10, axis=1))
    if world is not ReacherGoalEnv:  # state = observation: replay the recorded actions
        replay = env.dynamics(data.observations[:, :-1].reshape(-1, 2).astype(float),
                              data.actions.reshape(-1, 2).astype(float))
        np.testing.assert_allclose(replay.reshape(30, 10, 2), data.observations[:, 1:], atol=1e-5)


def test_build_is_seeded_and_expert_beats_random() -> None:
    env = PointReachEnv()
    a, b = build_dataset(env, "expert", 50, seed=1), build_dataset(env, "expert", 50, seed=1)
    for key in a.arrays():
        np.testing.assert_array_equal(a.arrays()[key], b.arrays()[key])
    assert not np.array_equal(a.actions, build_dataset(env, "expert", 50, seed=2).actions)
    random = build_dataset(env, "random", 200, seed=1)
    expert = build_dataset(env, "expert", 200, seed=1)
    assert expert.final_success(0.5).mean() > 0.5 > random.final_success(0.5).mean()
    with pytest.raises(ValueError, match="kind"):
        build_dataset(env, "medium", 10)


def test_dataset_round_trip(tmp_path) -> None:
    env = PointRoomsEnv()
    data = build_dataset(env, "expert", 20, horizon=12, seed=0, env_id="recast/PointRooms-v0")
    path = data.save(tmp_path / "rooms.npz")
    loaded = load_dataset(path, env)
    for key, value in data.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, key), value)
    assert loaded.meta == {"env_id": "recast/PointRooms-v0", "kind": "expert"}
    assert loaded.horizon == 12 and loaded.n_trajectories == 20 and loaded.dims == (2, 2, 2)


def _write(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def test_loader_rejects_bad_files(tmp_path) -> None:
    good = build_dataset(PointReachEnv(), "random", 4, horizon=5, seed=0).arrays()
    cases = {
        "missing": ({k: v for k, v in good.items() if k != "actions"}, r"missing key\(s\) \['actions'\]"),
        "dtype": ({**good, "actions": good["actions"].astype(np.int64)}, "key 'actions' has dtype int64"),
        "ndim": ({**good, "desired_goals": good["desired_goals"][:, 0]}, "key 'desired_goals' has shape"),
        "steps": ({**good, "observations": good["observations"][:, :5]}, r"key 'observations' has shape \(4, 5, 2\)"),
        "count": ({**good, "achieved_goals": good["achieved_goals"][:3]}, "key 'achieved_goals'"),
    }
    nan = good["observations"].copy()
    nan[2, 3, 1] = np.nan
    cases["nan"] = ({**good, "observations": nan}, r"key 'observations' has a non-finite value at index \(2, 3, 1\)")
    big = good["actions"].copy()
    big[1, 0, 0] = 3.0
    cases["range"] = ({**good, "actions": big}, r"key 'actions' has a value outside \[-1, 1\] at index \(1, 0, 0\)")
    for name, (arrays, message) in cases.items():
        path = _write(tmp_path / f"{name}.npz", **arrays)
        with pytest.raises(ValueError, match=message) as err:
            load_dataset(path)
        assert path in str(err.value)
    with pytest.raises(ValueError, match="key 'observations' has feature size 2, but the env expects 6"):
        load_dataset(_write(tmp_path / "ok.npz", **good), ReacherGoalEnv())
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable .npz dataset"):
        load_dataset(tmp_path / "junk.npz")


def test_from_awgcsl_layout() -> None:
    n, t = 3, 4
    buffer = {"o": np.zeros((n, t + 1, 5)), "ag": np.zeros((n, t + 1, 2)), "g": np.ones((n, t, 2)),
              "u": np.zeros((n, t, 3))}
    data = from_awgcsl(buffer, env_id="FetchReach")
    assert isinstance(data, GoalDataset) and data.dims == (5, 2, 3) and data.horizon == t
    with pytest.raises(ValueError, match="missing key"):
        from_awgcsl({"o": buffer["o"]})
