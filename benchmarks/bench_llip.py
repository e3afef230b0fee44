"""Llip's cost against CLIP: a training step at equal batch, and the B × B caption-conditioned score alone.

Run ``python -m benchmarks.bench_llip [--batch 64] [--k 4 8 16] [--device cpu|cuda] [--repeats N]``.

1. Train step (forward + loss + backward + AdamW) of the ``caption_diversity`` cpu model (ViT width 64, depth 2,
   48 × 48 images, 36 patches; text width 64, depth 2) on a fixed batch: CLIP (K = 1, InfoNCE) is the reference;
   SigLIP (K = 1, sigmoid) and Llip (K mixture tokens, sigmoid) are reported as ratios to it.
2. Score matrix alone, forward + backward, for B images × B captions (embed dim 64): the single-vector
   ``image @ text.T`` against Llip's batched cross-attention (B · B · K attention weights, B · B · E mixed
   embeddings), and against the same computation written as a Python loop over captions (what batching saves).

Arms are timed round-robin (sharing load drift); we report medians; CPU time is this process only.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from agents.contrastive import LlipDualEncoder, LlipLoss, TextQueriedCrossAttention
from agents.perception import TextConfig, TextEncoder, ViT, ViTConfig


def timed(runners: dict[str, Callable[[], None]], repeats: int, number: int, device: str
          ) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU seconds per call of each runner (round-robin over repeats, after 2 warm-up calls)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for run in runners.values():
        for _ in range(2):
            run()
    wall: dict[str, list[float]] = {n: [] for n in runners}
    cpu: dict[str, list[float]] = {n: [] for n in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(number):
                run()
            sync()
            wall[name].append((time.perf_counter() - t0) / number)
            cpu[name].append((time.process_time() - c0) / number)
    return ({n: float(np.median(t)) for n, t in wall.items()}, {n: float(np.median(t)) for n, t in cpu.items()})


def train_step(k: int, objective: str, images: torch.Tensor, tokens: torch.Tensor, device: str) -> Callable[[], None]:
    torch.manual_seed(0)
    vit = ViT(ViTConfig(48, 8, 3, 64, 2, 4, n_extra_tokens=k))
    model = LlipDualEncoder(vit, TextEncoder(TextConfig(12, 15, 64, 2, 4)), 64).to(device)
    head = LlipLoss(objective).to(device)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-3)

    def step() -> None:
        loss = head(model(images, tokens)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def score_runners(b: int, k: int, device: str) -> dict[str, Callable[[], None]]:
    gen = torch.Generator().manual_seed(0)
    mixture = torch.randn(b, k, 64, generator=gen).to(device).requires_grad_()
    text = F.normalize(torch.randn(b, 64, generator=gen), dim=-1).to(device).requires_grad_()
    image = F.normalize(torch.randn(b, 64, generator=gen), dim=-1).to(device).requires_grad_()
    attn = TextQueriedCrossAttention(64, 64).to(device)

    def single() -> None:
        (image @ text.T).sum().backward()

    def batched() -> None:
        attn.scores(attn.image_state(mixture), text)[0].sum().backward()

    def loop() -> None:  # one caption at a time: the same numbers, B Python iterations
        state = attn.image_state(mixture)
        torch.cat([attn.scores(state, text[j : j + 1])[0] for j in range(b)], dim=1).sum().backward()

    return {f"single-vector B={b}": single, f"llip batched B={b}": batched, f"llip loop B={b}": loop}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--k", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--score-batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=5, help="calls per timed repeat")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 3, 48, 48, generator=gen).to(args.device)
    tokens = torch.randint(1, 12, (args.batch, 3), generator=gen).to(args.device)

    arms = {"CLIP (K=1)": (1, "infonce"), "SigLIP (K=1)": (1, "sigmoid"),
            **{f"Llip K={k}": (k, "sigmoid") for k in args.k}}
    runners = {name: train_step(k, obj, images, tokens, args.device) for name, (k, obj) in arms.items()}
    wall, cpu = timed(runners, args.repeats, args.number, args.device)
    print(f"train step, batch {args.batch}, device {args.device}, threads {torch.get_num_threads()}, "
          f"median of {args.repeats} × {args.number} (CPU time: this process only)")
    print(f"{'arm':<16}{'wall ms':>9}{'cpu ms':>9}{'wall / CLIP':>13}{'cpu / CLIP':>12}")
    for name in runners:
        ref = "CLIP (K=1)"
        print(f"{name:<16}{wall[name] * 1e3:>9.2f}{cpu[name] * 1e3:>9.2f}{wall[name] / wall[ref]:>13.3f}"
              f"{cpu[name] / cpu[ref]:>12.3f}")

    k = max(args.k)
    print(f"\nscore matrix forward + backward, K = {k}, embed 64 (B·B·E mixed floats: memory of the batched form)")
    print(f"{'scorer':<24}{'wall ms':>9}{'cpu ms':>9}{'cpu / single':>14}{'MiB (B·B·E)':>13}")
    for b in args.score_batches:
        runners = score_runners(b, k, args.device)
        wall, cpu = timed(runners, args.repeats, 1, args.device)
        single = cpu[f"single-vector B={b}"]
        for name in runners:
            mib = b * b * 64 * 4 / 2**20 if "llip" in name else b * b * 4 / 2**20
            print(f"{name:<24}{wall[name] * 1e3:>9.2f}{cpu[name] * 1e3:>9.2f}{cpu[name] / single:>14.1f}{mib:>13.2f}")


if __name__ == "__main__":
    main()
