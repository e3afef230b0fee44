"""Wall time per update of the SAM family against the base optimiser, on one model.

Run ``python -m benchmarks.bench_optimizers [--model small_cnn|resnet18] [--device cpu|cuda] [--repeats N]``.

Each update is ``opt.zero_grad(set_to_none=True); opt.step(closure)`` on a fixed minibatch, the closure
doing forward + cross-entropy + backward (SGD: 1 pass, SAM: 2, Lookbehind k: 2k), wrapped as in the
``sharpness`` loop so that only the first pass updates BatchNorm statistics (``first_pass_stats_only``;
``--bn-all-passes`` to skip it). ASAM uses the official weights-only rule (``asam_param_groups``). Arms
are timed round-robin (to share the machine's load drift) and we report the median over repeats.

Targets: SAM ≤ 1.1 × 2 × SGD; Lookbehind with k steps ≤ 1.1 × k × SAM.
Defaults: ``small_cnn`` (width 32) on a batch of 128 digit-shaped 1×8×8 inputs; ``resnet18`` is the
CIFAR-style ResNet-18 at width 16 on a batch of 32 inputs of 3×32×32.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from agents.optimizers import SAM, Lookbehind, MultistepSAM, asam_param_groups, first_pass_stats_only
from agents.perception.convnets import build_model

SETUPS = {"small_cnn": dict(shape=(1, 8, 8), batch=128, width=32),
          "resnet18": dict(shape=(3, 32, 32), batch=32, width=16)}


def arms(k_values: list[int]) -> dict[str, tuple[Callable, tuple[str, float] | None]]:
    """name → (optimiser factory of a model, target (reference arm, factor) or None): time ≤ 1.1 × factor × ref."""
    base = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
    sgd = torch.optim.SGD
    out = {"SGD": (lambda m: sgd(m.parameters(), **base), None),
           "SAM": (lambda m: SAM(m.parameters(), sgd, rho=0.05, **base), ("SGD", 2.0)),
           "ASAM": (lambda m: SAM(asam_param_groups(m.named_parameters()), sgd, rho=0.5, adaptive=True, **base),
                    ("SGD", 2.0))}
    for k in k_values:
        out[f"Lookbehind-SAM k={k}"] = (
            lambda m, k=k: Lookbehind(m.parameters(), sgd, rho=0.05, k=k, alpha=-1, **base), ("SAM", float(k)))
        out[f"Multistep-SAM k={k}"] = (lambda m, k=k: MultistepSAM(m.parameters(), sgd, rho=0.05, k=k, **base), None)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small_cnn", choices=list(SETUPS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--number", type=int, default=10, help="updates per timed repeat")
    parser.add_argument("--k", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    parser.add_argument("--bn-all-passes", action="store_true", help="let every pass update BatchNorm stats")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    setup = SETUPS[args.model]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(setup["batch"], *setup["shape"], generator=gen).to(args.device)
    y = torch.randint(0, 10, (setup["batch"],), generator=gen).to(args.device)

    runners = {}
    for name, (make, _) in arms(args.k).items():
        torch.manual_seed(0)
        model = build_model(args.model, setup["shape"][0], 10, setup["shape"][-1], setup["width"]).to(args.device)
        opt = make(model)

        def closure(model=model) -> torch.Tensor:
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss

        def update(opt=opt, closure=closure, model=model) -> None:
            opt.zero_grad(set_to_none=True)
            opt.step(closure if args.bn_all_passes else first_pass_stats_only(model, closure))

        runners[name] = update

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    wall: dict[str, list[float]] = {name: [] for name in runners}
    cpu: dict[str, list[float]] = {name: [] for name in runners}
    for name, update in runners.items():  # warm-up
        for _ in range(3):
            update()
    for _ in range(args.repeats):
        for name, update in runners.items():
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.number):
                update()
            sync()
            wall[name].append((time.perf_counter() - t0) / args.number)
            cpu[name].append((time.process_time() - c0) / args.number)
    w = {name: float(np.median(t)) for name, t in wall.items()}
    c = {name: float(np.median(t)) for name, t in cpu.items()}

    print(f"model {args.model}, batch {setup['batch']}, device {args.device}, threads {torch.get_num_threads()}, "
          f"median of {args.repeats} × {args.number} updates (CPU time: this process, robust to other load)")
    print(f"{'optimizer':<22}{'wall ms':>9}{'cpu ms':>9}{'wall ratio':>12}{'cpu ratio':>11}{'target':>12}  ok (wall/cpu)")
    for name, (_, target) in arms(args.k).items():
        line = f"{name:<22}{w[name] * 1e3:>9.2f}{c[name] * 1e3:>9.2f}"
        if target is None:
            print(line)
            continue
        ref, factor = target
        rw, rc = w[name] / w[ref], c[name] / c[ref]
        ok = "/".join("yes" if r <= 1.1 * factor else "NO" for r in (rw, rc))
        print(f"{line}{rw:>12.3f}{rc:>11.3f}{f'≤ {1.1 * factor:.2f}×{ref}':>12}  {ok}")


if __name__ == "__main__":
    main()
