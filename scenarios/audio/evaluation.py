"""The per-seed work of ``audio_explanations``: train and freeze the classifier, train L-MAC (and FT),
compute every method's masks, score them, run the cascading-randomisation check, draw and write audio."""

from __future__ import annotations

import copy
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from agents.explainers import (
    AudioCNN, LMACLoss, MaskDecoder, Refeaturizer, SpectrogramClassifier, average_drop_recipe, chance_masks,
    complexity, faithfulness, freeze, gradient_masks, lmac_masks, mask_iou, si_sdr, sparseness, train_decoder,
)
from envs.audio import AudioWorld, Clips, write_wav
from scenarios.plotting import save
from scenarios.stats import aggregate

METHOD_NAMES = {"lmac": "L-MAC", "lmac_ft": "L-MAC FT", "saliency": "Saliency", "integrated_gradients": "IG",
                "smoothgrad": "SmoothGrad", "gradcam": "Grad-CAM", "random": "random mask (chance)",
                "all_ones": "all-ones mask (chance)", "oracle_ibm": "oracle IBM (upper bound)"}


def train_classifier(world: AudioWorld, x: torch.Tensor, y: torch.Tensor, c, seed: int,
                     log: Callable[[dict], None]) -> SpectrogramClassifier:
    """AdamW + cross-entropy on the in-domain training clips, then frozen."""
    torch.manual_seed(seed)
    sp = world.spectral
    model = SpectrogramClassifier(AudioCNN(sp.n_mels, world.spec.n_classes, tuple(c.widths)),
                                  Refeaturizer(sp.fbank)).to(x.device)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    rng = np.random.default_rng(seed)
    for epoch in range(c.epochs):
        model.train()
        order = torch.as_tensor(rng.permutation(len(x)), device=x.device)
        total = 0.0
        for start in range(0, len(x), c.batch_size):
            idx = order[start: start + c.batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        log({"phase": "classifier", "epoch": epoch + 1, "train_loss": total / len(x)})
    return freeze(model)


def build_lmac(world: AudioWorld, classifier: SpectrogramClassifier, x: torch.Tensor, x_clean: torch.Tensor,
               c, seed: int, log: Callable[[dict], None]) -> dict[str, MaskDecoder]:
    """L-MAC, and L-MAC FT = the trained decoder fine-tuned ``ft_epochs`` more with the guidance term."""
    torch.manual_seed(seed)
    decoder = MaskDecoder(classifier.cnn.widths, world.spectral.n_mels, world.spectral.n_freqs,
                          hidden=c.hidden).to(x.device)
    loss = LMACLoss(c.l_in, c.l_out, c.l_1, c.l_tv, c.l1_reduction)
    opt = dict(batch_size=c.batch_size, lr=c.lr, weight_decay=c.weight_decay, seed=seed)
    train_decoder(classifier, decoder, x, loss, epochs=c.epochs, log=lambda r: log({"phase": "lmac", **r}), **opt)
    decoders = {"lmac": decoder}
    if c.ft_epochs > 0:
        ft = copy.deepcopy(decoder)
        guided = LMACLoss(c.l_in, c.l_out, c.l_1, c.l_tv, c.l1_reduction, c.guidance_weight, c.guidance_threshold,
                          c.guidance_xcorr)
        train_decoder(classifier, ft, x, guided, epochs=c.ft_epochs, x_clean=x_clean,
                      log=lambda r: log({"phase": "lmac_ft", **r}), **opt)
        decoders["lmac_ft"] = ft
    return decoders


def method_masks(method: str, classifier: SpectrogramClassifier, decoders: dict[str, MaskDecoder],
                 x: torch.Tensor, ibm: np.ndarray, b, generator: torch.Generator) -> torch.Tensor:
    if method in decoders:
        return lmac_masks(classifier, decoders[method], x)
    if method in ("random", "all_ones"):
        return chance_masks(method, tuple(x.shape), generator, x.device)
    if method == "oracle_ibm":
        return torch.as_tensor(ibm, device=x.device)
    return gradient_masks(method, classifier, x, ig_steps=b.ig_steps, smoothgrad_samples=b.smoothgrad_samples,
                          smoothgrad_sigma=b.smoothgrad_sigma)


def score(world: AudioWorld, classifier: SpectrogramClassifier, clips: Clips, x: torch.Tensor, ibm: np.ndarray,
          mask: torch.Tensor, p: np.ndarray) -> dict[str, float]:
    """Every metric, averaged over the clips (per-sample definitions in :mod:`agents.explainers.metrics`)."""
    p_in = classifier.probabilities(mask * x).cpu().numpy()
    p_out = classifier.probabilities((1 - mask) * x).cpu().numpy()
    m = mask.cpu().numpy()
    per_sample = {**faithfulness(p, p_in, p_out), "AD (recipe, double softmax)": average_drop_recipe(p, p_in),
                  "SPS": sparseness(m), "COMP": complexity(m), "mask IoU": mask_iou(m, ibm),
                  "SI-SDR": si_sdr(world.spectral.listenable(m, clips.mixture), clips.target),
                  "mask mean": m.reshape(len(m), -1).mean(1)}
    return {k: float(np.mean(v)) for k, v in per_sample.items()}


def randomisation_check(classifier: SpectrogramClassifier, decoders: dict[str, MaskDecoder], x: torch.Tensor,
                        methods: list[str], b, seed: int) -> list[dict]:
    """Cascading model randomisation (Adebayo et al. 2018): re-initialise the head, then blocks 4, 3, 2, 1
    (top-down, cumulatively); Spearman ρ between each method's masks before and after, mean over clips.
    The L-MAC decoder is kept: it reads the randomised classifier's block features."""
    torch.manual_seed(seed)
    reference = {m: method_masks(m, classifier, decoders, x, None, b, None) for m in methods}
    model = copy.deepcopy(classifier)
    layers = [("head", model.cnn.head)] + [(f"block {k + 1}", model.cnn.convs[k])
                                          for k in reversed(range(len(model.cnn.convs)))]
    rows = [{"stage": 0, "randomised": "none", "method": METHOD_NAMES[m], "spearman": 1.0} for m in methods]
    for stage, (name, layer) in enumerate(layers, start=1):
        for module in layer.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        freeze(model)
        for m in methods:
            after = method_masks(m, model, decoders, x, None, b, None)
            rows.append({"stage": stage, "randomised": f"up to {name}", "method": METHOD_NAMES[m],
                         "spearman": spearman(reference[m], after)})
    return rows


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over samples of Spearman's ρ between two (B, ...) mask batches (ties: average ranks)."""
    ra, rb = (rankdata(t.cpu().numpy().reshape(len(t), -1), axis=1) for t in (a, b))
    ra, rb = ra - ra.mean(1, keepdims=True), rb - rb.mean(1, keepdims=True)
    den = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    return float(np.mean(np.where(den > 0, (ra * rb).sum(1) / np.maximum(den, 1e-300), 0.0)))


def mask_figure(x: np.ndarray, x_clean: np.ndarray, masks: dict[str, np.ndarray], labels: list[str], path,
                title: str) -> None:
    """Rows: clips; columns: mixture X, clean-target X, then each method's mask (frequency up, time right)."""
    columns = [("mixture log1p|STFT|", x), ("clean target", x_clean)] + [(METHOD_NAMES[k], v) for k, v in masks.items()]
    fig, axes = plt.subplots(len(x), len(columns), figsize=(1.9 * len(columns), 1.9 * len(x)), squeeze=False)
    for i in range(len(x)):
        for j, (name, data) in enumerate(columns):
            ax = axes[i][j]
            ax.imshow(data[i].T, origin="lower", aspect="auto", cmap="magma",
                      vmin=0, vmax=1 if j >= 2 else max(float(x[i].max()), 1e-6))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=7)
        axes[i][0].set_ylabel(labels[i], fontsize=7)
    fig.suptitle(title, fontsize=9)
    save(fig, path)


def metric_bars(df: pd.DataFrame, metrics: list[str], path, title: str) -> None:
    """One panel per metric: mean ± 95 % CI over seeds, one bar per method, grouped by domain."""
    domains = list(dict.fromkeys(df["domain"]))
    methods = list(dict.fromkeys(df["method"]))
    agg = aggregate(df, ["method", "domain"], metrics)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4.4), squeeze=False)
    width = 0.8 / len(domains)
    for ax, metric in zip(axes[0], metrics):
        for k, domain in enumerate(domains):
            part = agg[agg["domain"] == domain].set_index("method").reindex(methods)
            ax.bar(np.arange(len(methods)) + k * width, part[f"{metric}_mean"], width,
                   yerr=part[f"{metric}_ci95"], capsize=2, label=domain)
        ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods, rotation=60, ha="right", fontsize=7)
        ax.set_title(metric)
        ax.grid(alpha=0.3, axis="y")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title)
    save(fig, path)


def write_examples(world: AudioWorld, clips: Clips, masks: dict[str, np.ndarray], n: int, folder, tag: str) -> None:
    """WAVs: the mixture, the clean target and each method's listenable interpretation, for n clips."""
    folder.mkdir(parents=True, exist_ok=True)
    sr = world.spec.sr
    for i in range(min(n, len(clips))):
        stem = f"{tag}_clip{i}_{world.classes[clips.label[i]]}"
        write_wav(folder / f"{stem}_mixture.wav", clips.mixture[i], sr)
        write_wav(folder / f"{stem}_target.wav", clips.target[i], sr)
        for method, mask in masks.items():
            write_wav(folder / f"{stem}_{method}.wav", world.spectral.listenable(mask[i], clips.mixture[i]), sr)
