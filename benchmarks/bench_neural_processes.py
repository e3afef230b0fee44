"""Conditioning memory and update time of CMANP against the baselines, for N = 10² … 10⁵ context points.

Run ``python -m benchmarks.bench_neural_processes [--sizes 100 1000 10000 100000] [--size small|paper]
[--device cpu|cuda] [--repeats R] [--block 256] [--new-points 10] [--targets 50]``.

For every model and N (one task, 1-D GP-shaped inputs; weights untrained — cost does not depend on them):

- **peak MB**: measured peak tensor allocation (:func:`agents.neural_processes.memory.peak_tensor_bytes`, a
  dispatch-mode counter of live storage, CPU or GPU) of conditioning on N points and answering M targets.
  CMANP conditions in blocks of ``--block`` (embedding per block too), so this should be flat in N.
- **ms / update**: wall time to take ``--new-points`` new context points into a context of N and predict the M
  targets again. CMANP: ``update`` (the running log-sum-exp state) + query; baselines re-encode N + b points.
  Median of ``--repeats`` wall and CPU (process) times after a warm-up call; a single call when that one
  takes longer than ``--single-shot`` seconds. From ``--one-call-from`` points on, a baseline is run once
  (re-encoding N + b points), and that call gives both its time and its peak memory.
- **explicit attn MB**: the analytic size of the attention matrices an explicit-softmax implementation would
  hold at once (TNP-D: H·(N+M)² floats per layer; ANP, 8 heads: 8·N² self-attention + 8·M·N
  cross-attention; CMANP: H·L_C·b) — the reference code's implementations. Our TNP-D/ANP use
  ``scaled_dot_product_attention``, whose fused CPU/GPU kernels do not materialise the matrix, so their
  *measured* memory grows linearly while their time grows quadratically.

Prints one table and the TNP-D / CMANP ratios at the largest N.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from agents.neural_processes import ANP, CMANP, CMANPAND, CNP, TNPD, CMABContext
from agents.neural_processes.memory import peak_tensor_bytes

SIZES = {  # small: the scenario's cpu preset; paper: the reference GP configs
    "small": dict(dim=32, dim_ff=64, num_layers=2, num_latents=16, num_latents_per_layer=16, emb_depth=3, width=64),
    "paper": dict(dim=64, dim_ff=128, num_layers=6, num_latents=128, num_latents_per_layer=128, emb_depth=4,
                  width=128),
}


def models(size: str, block: int) -> dict[str, torch.nn.Module]:
    s = SIZES[size]
    cm = {k: s[k] for k in ("dim", "dim_ff", "num_layers", "num_latents", "num_latents_per_layer", "emb_depth")}
    return {"CMANP": CMANP(**cm, block_size=block), "CMANP-AND": CMANPAND(**cm, block_size=block),
            "CNP": CNP(dim=s["width"]), "ANP": ANP(dim=s["width"]),
            "TNP-D": TNPD(dim=s["dim"], dim_ff=s["dim_ff"], num_layers=s["num_layers"], emb_depth=s["emb_depth"])}


def explicit_attention_mb(name: str, n: int, m: int, size: str, block: int) -> float:
    s, heads = SIZES[size], 4
    floats = {"TNP-D": heads * (n + m) ** 2, "ANP": 8 * n**2 + 8 * m * n, "CNP": 0,
              "CMANP": heads * s["num_latents_per_layer"] * min(block, n),
              "CMANP-AND": heads * s["num_latents_per_layer"] * min(block, n)}[name]
    return 4 * floats / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000, 100_000])
    parser.add_argument("--size", default="small", choices=list(SIZES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block", type=int, default=256, help="CMANP conditioning block size")
    parser.add_argument("--new-points", type=int, default=10)
    parser.add_argument("--targets", type=int, default=50)
    parser.add_argument("--single-shot", type=float, default=5.0, help="seconds above which one call is enough")
    parser.add_argument("--one-call-from", type=int, default=50_000,
                        help="from this N on, time and measure a baseline in one call (no warm-up, no repeats)")
    parser.add_argument("--models", nargs="+", default=None, help="subset of model names")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nets = {k: v.to(args.device).eval() for k, v in models(args.size, args.block).items()
            if args.models is None or k in args.models}
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    xt = torch.rand(1, args.targets, 1, generator=gen).to(args.device)
    x_new = torch.rand(1, args.new_points, 1, generator=gen).to(args.device)
    y_new = torch.randn(1, args.new_points, 1, generator=gen).to(args.device)
    results = {}
    print(f"size {args.size}, device {args.device}, threads {torch.get_num_threads()}, block {args.block}, "
          f"M = {args.targets} targets, update = {args.new_points} new points; times: median wall / CPU (this "
          f"process, robust to other load)")
    print(f"{'model':<11}{'N':>8}{'peak MB':>10}{'wall ms/upd':>13}{'cpu ms/upd':>12}{'explicit attn MB':>18}"
          f"{'calls':>7}")
    for n in args.sizes:
        xc = torch.rand(1, n, 1, generator=gen).to(args.device)
        yc = torch.randn(1, n, 1, generator=gen).to(args.device)
        for name, net in nets.items():
            with torch.no_grad():
                context = net.condition(xc, yc)

                def update(net=net, context=context):
                    return net.predict(net.update(context, x_new, y_new), xt)

                def timed() -> tuple[float, float]:
                    sync()
                    wall, cpu = time.perf_counter(), time.process_time()
                    update()
                    sync()
                    return time.perf_counter() - wall, time.process_time() - cpu

                if n >= args.one_call_from and not isinstance(context, CMABContext):
                    # one call re-encoding N + b points gives both numbers (the dispatch counter's overhead is
                    # per op, negligible at this size); no warm-up
                    sync()
                    wall, cpu = time.perf_counter(), time.process_time()
                    peak = peak_tensor_bytes(lambda: net.predict_from(torch.cat([xc, x_new], 1),
                                                                      torch.cat([yc, y_new], 1), xt))
                    sync()
                    times = [(time.perf_counter() - wall, time.process_time() - cpu)]
                else:
                    times = [timed()]  # the first call also warms up
                    if times[0][0] <= args.single_shot:
                        times = [timed() for _ in range(args.repeats)]
                    peak = peak_tensor_bytes(lambda: net.predict(net.condition(xc, yc), xt))
            wall = 1e3 * statistics.median(t[0] for t in times)
            cpu = 1e3 * statistics.median(t[1] for t in times)
            results[name, n] = (peak / 2**20, wall, cpu)
            print(f"{name:<11}{n:>8}{peak / 2**20:>10.3f}{wall:>13.2f}{cpu:>12.2f}"
                  f"{explicit_attention_mb(name, n, args.targets, args.size, args.block):>18.1f}{len(times):>7}",
                  flush=True)
    top = max(args.sizes)
    if ("TNP-D", top) in results and ("CMANP", top) in results:
        (pt, _, tt), (pc, _, tc) = results["TNP-D", top], results["CMANP", top]
        print(f"N = {top}: TNP-D / CMANP peak memory = {pt / pc:.1f}×, CPU time per update = {tt / tc:.1f}×; "
              f"explicit-attention TNP-D / CMANP = "
              f"{explicit_attention_mb('TNP-D', top, args.targets, args.size, args.block) / explicit_attention_mb('CMANP', top, args.targets, args.size, args.block):.0f}×")
    small = min(args.sizes)
    if ("CMANP", small) in results and ("CMANP", top) in results:
        print(f"CMANP peak memory N = {small} → {top}: {results['CMANP', small][0]:.3f} → "
              f"{results['CMANP', top][0]:.3f} MB")


if __name__ == "__main__":
    main()
