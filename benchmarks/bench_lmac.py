"""Wall time per explained clip: L-MAC (one decoder pass) against captum's gradient baselines.

Run ``python -m benchmarks.bench_lmac [--clips N] [--repeats R] [--device cpu|cuda] [--widths 8,16,32,64]``.

All methods explain the same batch of 1 s, 8 kHz log1p-STFT inputs (103 × 129) for the same classifier
(the scenario's small CNN; untrained — timing does not depend on the weights). Methods are timed
round-robin (to share the machine's load drift); we report the median over repeats, per clip, and the
ratio to Saliency's time per clip (one forward–backward). Expectation: L-MAC ≈ 1 forward of classifier + decoder, so at or below
Saliency; IG ≈ ig_steps ×, SmoothGrad ≈ n ×, Grad-CAM ≈ 1 ×. Also the wall time of one L-MAC training
step (batch 16: 3 classifier passes + decoder backward).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from agents.explainers import (
    AudioCNN, LMACLoss, MaskDecoder, Refeaturizer, SpectrogramClassifier, freeze, gradient_masks, lmac_masks,
)
from envs.audio.spectral import Spectral


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--widths", default="8,16,32,64")
    args = parser.parse_args()
    torch.manual_seed(0)
    sp = Spectral()
    widths = tuple(int(w) for w in args.widths.split(","))
    clf = freeze(SpectrogramClassifier(AudioCNN(sp.n_mels, 10, widths), Refeaturizer(sp.fbank)).to(args.device))
    decoder = MaskDecoder(widths, sp.n_mels, sp.n_freqs).to(args.device).eval()
    x = torch.rand(args.clips, sp.n_frames(8000), sp.n_freqs, device=args.device) * 3
    methods = {"L-MAC": lambda: lmac_masks(clf, decoder, x),
               **{name: (lambda name=name: gradient_masks(name, clf, x))
                  for name in ("saliency", "integrated_gradients", "smoothgrad", "gradcam")}}
    opt = torch.optim.Adam(decoder.parameters(), lr=2e-4)

    def lmac_step() -> None:
        xb = x[:16]
        with torch.no_grad():
            blocks = clf.blocks(xb)
        loss, _ = LMACLoss()(clf, decoder(blocks, xb.shape[-2]), xb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    methods["L-MAC train step (16 clips)"] = lmac_step
    times: dict[str, list[float]] = {k: [] for k in methods}
    for _ in range(args.repeats):
        for name, fn in methods.items():
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    base = np.median(times["saliency"]) / args.clips
    print(f"{args.clips} clips, widths {widths}, {args.device}, torch threads {torch.get_num_threads()}")
    print(f"{'method':30s} {'ms / clip':>10s} {'× Saliency':>11s}")
    for name, ts in times.items():
        per = np.median(ts) / (16 if "train" in name else args.clips)
        print(f"{name:30s} {1000 * per:10.2f} {per / base:11.2f}")


if __name__ == "__main__":
    main()
