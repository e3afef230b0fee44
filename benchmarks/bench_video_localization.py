"""Frames localised per second by TrCAM-V at inference: streaming (batch 1) against batched, same run.

Run ``python -m benchmarks.bench_video_localization [--device cpu|cuda] [--batch 64] [--repeats 5]``.

One localisation = frozen ViT forward (last-block attention maps) → decoder → softmax → τ·max threshold →
largest connected component → box, i.e. what the agent does per frame in ``recast/VideoLocalization-v0``.
The teacher (Grad-CAM of the image–text model: one forward + one backward) is timed the same way for
reference. Architectures are the ``cpu`` preset's (64² frames, 8-px patches, width 64, depth 3, decoder 16/8);
weights are random (speed does not depend on them). Arms are timed round-robin and we report the median of
wall time and of process CPU time (frames per CPU-second ≈ idle single-core throughput on a shared machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from agents.localization import FrozenViT, LocalisationDecoder, largest_component
from agents.localization.image_text import ImageTextModel, build_dual_encoder
from envs.media.video import VIDEO_VOCAB, VideoSpec, frames_to_tensor_layout, mask_boxes, sample_videos

ARCH = {"image_size": 64, "patch_size": 8, "width": 64, "depth": 3, "heads": 4, "vocab_size": len(VIDEO_VOCAB),
        "max_len": 4, "text_width": 64, "text_depth": 2, "text_heads": 4, "embed_dim": 64}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--frames", type=int, default=128, help="frames localised per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    videos = sample_videos(VideoSpec(), max(1, args.frames // 16), np.random.default_rng(0), "test")
    frames = torch.from_numpy(frames_to_tensor_layout(videos.frames.reshape(-1, 64, 64, 3)))[: args.frames]
    tags = torch.from_numpy(np.repeat(videos.labels, 16))[: args.frames]
    model = ImageTextModel(build_dual_encoder(ARCH).to(args.device).eval(), 10.0, ARCH)
    backbone = FrozenViT(model.dual.vision, "attention").to(args.device)
    decoder = LocalisationDecoder(backbone.channels, 8, (16, 8)).to(args.device).eval()
    class_text = torch.nn.functional.normalize(torch.randn(14, ARCH["embed_dim"], device=args.device), dim=-1)

    @torch.no_grad()
    def student(x: torch.Tensor, _: torch.Tensor) -> np.ndarray:
        maps = decoder.foreground(backbone(x.to(args.device)).maps).cpu().numpy()
        return mask_boxes(largest_component(maps, 0.5))

    def teacher(x: torch.Tensor, t: torch.Tensor) -> np.ndarray:
        return mask_boxes(largest_component(model.cams(x, t, class_text, args.device).numpy(), 0.5))

    def chunks(fn: Callable, size: int) -> Callable[[], None]:
        return lambda: [fn(frames[s:s + size], tags[s:s + size]) for s in range(0, len(frames), size)]

    arms = {"TrCAM-V streaming (batch 1)": chunks(student, 1), f"TrCAM-V batched ({args.batch})": chunks(student, args.batch),
            "teacher Grad-CAM streaming (batch 1)": chunks(teacher, 1),
            f"teacher Grad-CAM batched ({args.batch})": chunks(teacher, args.batch)}
    for fn in arms.values():  # warm-up
        fn()
    wall: dict[str, list[float]] = {name: [] for name in arms}
    cpu: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.repeats):
        for name, fn in arms.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    rate = {name: (len(frames) / float(np.median(wall[name])), len(frames) / float(np.median(cpu[name])))
            for name in arms}
    base = rate["TrCAM-V streaming (batch 1)"]
    print(f"{len(frames)} frames of 64², device {args.device}, torch threads {torch.get_num_threads()}")
    print(f"{'arm':42s} {'frames/s':>10s} {'× stream':>9s} {'frames/CPU-s':>13s} {'× stream':>9s}")
    for name, (fps, cps) in rate.items():
        print(f"{name:42s} {fps:10.1f} {fps / base[0]:9.2f} {cps:13.1f} {cps / base[1]:9.2f}")


if __name__ == "__main__":
    main()
