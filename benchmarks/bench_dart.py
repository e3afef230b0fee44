"""Imagination throughput of DART's token policy vs IRIS-style decode-then-convolve, and env steps/s.

Run ``python -m benchmarks.bench_dart [--sizes cpu|paper] [--device cpu|cuda] [--batch 64] [--horizon 20]``.

1. Imagined env steps per second (batch × horizon / wall time) of a full rollout in the same GPT world model,
   with the token policy (attends over the K tokens + CLS + MEM) and with the frame policy (decode the tokens
   with the VQ decoder, then CNN + LSTM), plus the actor-critic loss' backward pass — one actor-critic update
   minus the optimiser step. Target: token / frame ≥ 2×.
2. The policy step alone (B frames' tokens → action logits, no world model): where the saving comes from.
3. Real env collection steps per second (random actions, one env): MinAtar breakout and ALE Pong (Atari 100k
   protocol, 64 × 64 RGB).

Arms are timed round-robin and we report the median over repeats. ``--sizes cpu`` uses the ``atari_tokens``
cpu preset's sizes; ``--sizes paper`` IRIS's (tokenizer 64 channels / 512 codes, GPT 10 × 256, CNN 32-32-64-64,
LSTM 512; the token policy 3 × 256).
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np
import torch

import envs  # noqa: F401
from agents.world_models import actor_critic_loss, imagine
from scenarios.atari.model_based import PolicyTrain, TokenizerTrain, WorldModelTrain, build_parts

SIZES = {
    "cpu": (TokenizerTrain(), WorldModelTrain(), PolicyTrain()),
    "paper": (TokenizerTrain(channels=64, codebook_size=512, embed_dim=512),
              WorldModelTrain(width=256, depth=10, heads=4, seq_len=20),
              PolicyTrain(width=256, depth=3, heads=4, cnn_channels=[32, 32, 64, 64], lstm_hidden=512, horizon=20)),
}


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def env_steps_per_second(env_id: str, seconds: float, **kwargs) -> float:
    env = gymnasium.make(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        steps += 1
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="cpu", choices=list(SIZES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--env-seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    tok_cfg, wm_cfg, pol_cfg = SIZES[args.sizes]
    wm_cfg.seq_len = max(wm_cfg.seq_len, args.horizon + 1)
    torch.manual_seed(0)
    tokenizer, world_model, token_policy = build_parts("dart", 6, tok_cfg, wm_cfg, pol_cfg, args.device)
    frame_policy = build_parts("iris", 6, tok_cfg, wm_cfg, pol_cfg, args.device)[2]
    frame_policy.tokenizer = tokenizer
    world_model.eval()
    k, b, h = tokenizer.tokens_per_frame, args.batch, args.horizon
    start = torch.randint(0, tok_cfg.codebook_size, (b, k), device=args.device)
    policies = {"token policy (DART)": token_policy, "decode + CNN-LSTM (IRIS)": frame_policy}

    def rollout(policy):
        def step():
            traj = imagine(world_model, policy, start, policy.initial_state(b), h)
            actor_critic_loss(traj, 0.995, 0.95, 0.001)[0].backward()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
        return step

    def act(policy):
        state = policy.initial_state(b)

        @torch.no_grad()
        def step():
            for _ in range(h):
                policy(start, state)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
        return step

    print(f"sizes={args.sizes} device={args.device} batch={b} horizon={h} K={k} threads={torch.get_num_threads()}")
    for title, make in (("imagination (world model + policy + backward)", rollout), ("policy steps only", act)):
        steps = {name: make(policy) for name, policy in policies.items()}
        for step in steps.values():  # warm-up: one untimed call per arm
            step()
        times = {name: [] for name in policies}
        for _ in range(args.repeats):  # round-robin, so load drift hits both arms alike
            for name, step in steps.items():
                times[name].append(seconds(step))
        rates = {name: b * h / float(np.median(t)) for name, t in times.items()}
        print(f"\n{title}: imagined env steps/s")
        for name, rate in rates.items():
            print(f"  {name:28s} {rate:10.1f}")
        token, frame = rates.values()
        print(f"  ratio token / frame: {token / frame:.2f}× (target ≥ 2×)")
    print("\nreal env collection, one env, random actions: steps/s")
    print(f"  MinAtar breakout (64×64 RGB)   {env_steps_per_second('recast/MinAtar-v0', args.env_seconds):10.1f}")
    print(f"  ALE Pong (Atari 100k protocol) "
          f"{env_steps_per_second('recast/Atari100k-v0', args.env_seconds, game='Pong'):10.1f}")


if __name__ == "__main__":
    main()
