"""``audio_explanations``: L-MAC vs gradient baselines on spoken digits in interference (Paissan et al. 2024).

Per replicate seed:

1. the world (:mod:`envs.audio`): ``data.n_classes`` digit words by eSpeak NG speakers (train / test speakers
   disjoint), mixed with sound events or pink/brown noise at SNR ~ U[snr_db ± snr_spread] (in-domain), and
   three out-of-domain contaminations (another word by the 0.8/0.2 rule, white noise by the 0.5 rule,
   3–5-word babble at ``babble_snr_db``);
2. a small CNN on log-mel trained on in-domain clips, then frozen;
3. the L-MAC decoder trained on the frozen classifier with the recipe's loss (λ_in, λ_out, λ_1) = (4, 0.2, 0.4),
   Adam 2e-4, batch 16; then L-MAC FT: ``lmac.ft_epochs`` more epochs with the guidance term (g_w = 4,
   thr 0.35, xcorr ≥ 0.6) toward the clean target's spectrogram;
4. for every domain, masks from L-MAC, L-MAC FT, captum Saliency / IG / SmoothGrad / Grad-CAM and the
   reference masks (random, all-ones = chance levels; oracle IBM = upper bound), scored by AI, AD (single
   softmax; the recipe's double-softmax AD beside it), AG, FF, Fid-In, SPS, COMP, mask IoU against the IBM,
   and SI-SDR of the listenable interpretation ISTFT(expm1(M ⊙ X) e^{j∠X}) against the clean target;
5. the cascading-randomisation sanity check (Spearman ρ of masks as the classifier is re-initialised top-down);
6. one ``recast/AudioExplain-v0`` episode with L-MAC as the policy (``lmac_env_reward`` in the summary).

Outputs: ``results.csv`` (method × domain × seed), ``table.md`` (mean ± 95 % CI), ``randomisation.csv``,
``faithfulness.png``, ``quality.png``, ``randomisation.png``, ``masks_<domain>.png`` and ``wavs/``.
User WAV files (``eval.explain_wavs``) are read at the world's rate (resampled, mixed down to mono) and
explained by L-MAC of the first seed; an unreadable file is a one-line error before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from agents.explainers import GRADIENT_METHODS, lmac_masks
from envs.audio import AudioFileError, AudioWorld, WorldSpec, default_cache_dir, read_wav, write_wav
from envs.audio.explain_env import AudioExplainEnv
from scenarios.audio.evaluation import (
    METHOD_NAMES, build_lmac, mask_figure, method_masks, metric_bars, randomisation_check, score, train_classifier,
    write_examples,
)
from scenarios.claims import Better, Claim
from scenarios.plotting import line_with_ci
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.seeding import torch_threads
from scenarios.stats import ci_table, markdown_table
from scenarios.validation import param

OOD_MODES = ("ood_words", "ood_white", "ood_babble")
METRICS = ["AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP", "mask IoU", "SI-SDR", "AD (recipe, double softmax)",
           "mask mean"]
HIGHER = {"AI": "↑", "AD": "↓", "AG": "↑", "FF": "↑", "Fid-In": "↑", "SPS": "↑", "COMP": "↓", "mask IoU": "↑",
          "SI-SDR": "↑"}


@dataclass
class DataConfig:
    n_classes: int = param(10, ge=2, le=10)  # digit words "zero"…
    n_speakers: int = param(40, ge=5, le=1000)  # eSpeak NG voice settings per word (60/10/30 % train/val/test)
    snr_db: float = param(0.0, ge=-30, le=40)  # in-domain SNR centre (the recipe's WHAM! at 0 dB)
    snr_spread: float = param(5.0, ge=0, le=30)  # in-domain SNR ~ U[snr_db ± snr_spread]
    babble_snr_db: float = param(-5.0, ge=-30, le=40)  # OOD babble SNR (an SNR never trained on)
    n_train: int = param(1200, ge=16, le=1_000_000)  # in-domain training clips (classifier and decoder)
    n_eval: int = param(100, ge=2, le=100_000)  # test clips per domain
    ood_modes: list[str] = param(list(OOD_MODES), choices=OOD_MODES)
    cache_dir: str = ""  # word-bank cache ("" = $RECAST_AUDIO_CACHE or ~/.cache/recast/audio)


@dataclass
class ClassifierConfig:
    widths: list[int] = param([8, 16, 32, 64], ge=1, le=4096, nonempty=True)  # channels of the 4 conv blocks
    epochs: int = param(6, ge=1, le=10_000)
    lr: float = param(2e-3, gt=0, le=1)
    weight_decay: float = param(1e-4, ge=0, le=1)
    batch_size: int = param(64, ge=1, le=100_000)


@dataclass
class LMACConfig:
    epochs: int = param(8, ge=1, le=10_000)  # recipe: 200 (ESC-50, 1 200 clips)
    ft_epochs: int = param(2, ge=0, le=10_000)  # 0: no L-MAC FT arm
    batch_size: int = param(16, ge=1, le=100_000)
    lr: float = param(2e-4, gt=0, le=1)
    weight_decay: float = param(2e-6, ge=0, le=1)
    l_in: float = param(4.0, ge=0, le=1000)
    l_out: float = param(0.2, ge=0, le=1000)
    l_1: float = param(0.4, ge=0, le=1000)
    l_tv: float = param(0.0, ge=0, le=1000)
    l1_reduction: str = param("recipe", choices=("recipe", "mean"))  # recipe: λ_1·B·mean|M| (the code's effective)
    guidance_weight: float = param(4.0, gt=0, le=1000)
    guidance_threshold: float = param(0.35, ge=0, le=1)
    guidance_xcorr: float = param(0.6, ge=-1, le=1)
    hidden: int = param(64, ge=1, le=4096)


@dataclass
class BaselineConfig:
    ig_steps: int = param(32, ge=1, le=10_000)
    smoothgrad_samples: int = param(25, ge=1, le=10_000)
    smoothgrad_sigma: float = param(0.15, ge=0, le=10)  # × the input range
    methods: list[str] = param(list(GRADIENT_METHODS), choices=GRADIENT_METHODS)


@dataclass
class EvalConfig:
    randomisation_clips: int = param(40, ge=0, le=100_000)  # 0: skip the sanity check
    # gradient baselines also put through it (L-MAC always is); IG and SmoothGrad cost 25–32 passes per stage
    randomisation_methods: list[str] = param(["saliency", "gradcam"], choices=GRADIENT_METHODS)
    n_wavs: int = param(3, ge=0, le=100)  # clips per figure domain written as WAV
    n_figure_clips: int = param(3, ge=1, le=20)
    explain_wavs: list[str] = field(default_factory=list)  # user WAV files explained by the first seed's L-MAC


@dataclass
class AudioExplanationsConfig:
    data: DataConfig = field(default_factory=DataConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    lmac: LMACConfig = field(default_factory=LMACConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    n_seeds: int = param(3, ge=1, le=1000)
    torch_threads: int = param(1, ge=0, le=1024)

    def validate(self) -> None:
        if len(self.classifier.widths) != 4:
            raise ValueError(f"classifier.widths must list 4 block widths, got {self.classifier.widths}")
        if len(set(self.data.ood_modes)) != len(self.data.ood_modes):
            raise ValueError(f"data.ood_modes has duplicates: {self.data.ood_modes}")
        if len(set(self.baselines.methods)) != len(self.baselines.methods):
            raise ValueError(f"baselines.methods has duplicates: {self.baselines.methods}")
        for name in self.eval.explain_wavs:  # fail before the run directory exists, one line naming the file
            try:
                read_wav(name, 8000)
            except AudioFileError as err:
                raise ValueError(str(err)) from None


def methods(cfg: AudioExplanationsConfig) -> list[str]:
    return ["lmac", *(["lmac_ft"] if cfg.lmac.ft_epochs > 0 else []), *cfg.baselines.methods,
            "random", "all_ones", "oracle_ibm"]


def run(cfg: AudioExplanationsConfig, ctx: RunContext) -> ScenarioResult:
    with torch_threads(cfg.torch_threads if ctx.device == "cpu" else 0):
        return _run(cfg, ctx)


def _tensor(a: np.ndarray, device: str) -> torch.Tensor:
    return torch.as_tensor(a, device=device)


def _run(cfg: AudioExplanationsConfig, ctx: RunContext) -> ScenarioResult:
    d, device = cfg.data, ctx.device
    world = AudioWorld(WorldSpec(n_classes=d.n_classes, n_speakers=d.n_speakers, snr_db=d.snr_db,
                                 snr_spread=d.snr_spread, babble_snr_db=d.babble_snr_db),
                       d.cache_dir or default_cache_dir())
    domains = ["in_domain", *d.ood_modes]
    arms = methods(cfg)
    rows, random_rows, env_rewards = [], [], []
    for rep, seed in enumerate(ctx.progress(ctx.seeds.replicates(cfg.n_seeds), desc="seeds")):
        rng = np.random.default_rng(seed)
        log = lambda r, rep=rep: ctx.log({"seed": rep, **r})  # noqa: E731
        train = world.sample(d.n_train, "in_domain", "train", rng)
        x_train = _tensor(world.features(train)["x"], device)
        x_clean = _tensor(world.spectral.log1p_magnitude(train.target), device)
        classifier = train_classifier(world, x_train, _tensor(train.label, device), cfg.classifier, seed, log)
        decoders = build_lmac(world, classifier, x_train, x_clean, cfg.lmac, seed, log)
        generator = torch.Generator().manual_seed(seed)
        for domain in domains:
            clips = world.sample(d.n_eval, domain, "test", rng)
            feats = world.features(clips)
            x = _tensor(feats["x"], device)
            p = classifier.probabilities(x).cpu().numpy()
            accuracy = float((p.argmax(-1) == clips.label).mean())
            masks = {}
            for arm in arms:
                masks[arm] = method_masks(arm, classifier, decoders, x, feats["ibm"], cfg.baselines, generator)
                row = {"method": METHOD_NAMES[arm], "arm": arm, "domain": domain, "seed": rep,
                       "classifier_acc": accuracy, **score(world, classifier, clips, x, feats["ibm"], masks[arm], p)}
                log({"phase": "result", **row})
                rows.append(row)
            if rep == 0 and domain in ("in_domain", domains[-1]):
                _examples(cfg, ctx, world, clips, feats, masks, domain)
        if cfg.eval.randomisation_clips > 0:
            clips = world.sample(cfg.eval.randomisation_clips, "in_domain", "test", rng)
            x = _tensor(world.features(clips)["x"], device)
            checked = [a for a in arms if a in decoders or a in cfg.eval.randomisation_methods]
            random_rows += [{"seed": rep, **r}
                            for r in randomisation_check(classifier, decoders, x, checked, cfg.baselines, seed)]
        env_rewards.append(_env_episode(cfg, world, classifier, decoders["lmac"], device, seed))
        log({"phase": "env", "lmac_env_reward": env_rewards[-1]})
        if rep == 0 and cfg.eval.explain_wavs:
            _explain_user_files(cfg, ctx, world, classifier, decoders["lmac"], device)
    result = _report(cfg, ctx, pd.DataFrame(rows), pd.DataFrame(random_rows), domains)
    result.metrics["lmac_env_reward"] = float(np.mean(env_rewards))
    return result


def _env_episode(cfg, world: AudioWorld, classifier, decoder, device: str, seed: int) -> float:
    """Mean reward of one ``recast/AudioExplain-v0`` episode (in-domain test clips) with L-MAC as the policy.

    The reward is o_c − q_c = p_c(M ⊙ X) − p_c((1 − M) ⊙ X) under the frozen classifier (the batched FF is
    p_c − q_c); the clips come from the env's own stream, so this exercises the env as a user would.
    """
    def probabilities(x: np.ndarray) -> np.ndarray:
        return classifier.probabilities(_tensor(np.asarray(x, np.float32), device)).cpu().numpy()

    env = AudioExplainEnv(mode="in_domain", split="test", n_classes=cfg.data.n_classes,
                          n_speakers=cfg.data.n_speakers, episode_length=cfg.data.n_eval,
                          snr_db=cfg.data.snr_db, snr_spread=cfg.data.snr_spread,
                          classifier=probabilities, cache_dir=cfg.data.cache_dir or default_cache_dir())
    obs, _ = env.reset(seed=seed)
    rewards, done = [], False
    while not done:
        mask = lmac_masks(classifier, decoder, _tensor(obs[None], device))[0].cpu().numpy()
        obs, reward, done, _, _ = env.step(mask)
        rewards.append(reward)
    return float(np.mean(rewards))


def _examples(cfg, ctx, world, clips, feats, masks, domain) -> None:
    n = cfg.eval.n_figure_clips
    shown = {k: v[:n].cpu().numpy() for k, v in masks.items() if k not in ("random", "all_ones")}
    clean = world.spectral.log1p_magnitude(clips.target[:n])
    labels = [f"'{world.classes[c]}'" for c in clips.label[:n]]
    mask_figure(feats["x"][:n], clean, shown, labels, ctx.path(f"masks_{domain}.png"),
                f"Masks per method, {domain} (seed 0); L-MAC FT guided toward the clean target")
    if cfg.eval.n_wavs > 0:
        keep = {k: shown[k] for k in shown if k in ("lmac", "lmac_ft", "gradcam", "saliency", "oracle_ibm")}
        write_examples(world, clips, keep, cfg.eval.n_wavs, ctx.path("wavs"), domain)


def _explain_user_files(cfg, ctx, world, classifier, decoder, device) -> None:
    """L-MAC explanations of the user's WAV files (resampled to the world's rate, mono, cropped/padded)."""
    sr, out = world.spec.sr, []
    folder = ctx.path("wavs")
    folder.mkdir(exist_ok=True)
    for name in cfg.eval.explain_wavs:
        wave = read_wav(name, sr, world.spec.duration)
        x = _tensor(world.spectral.log1p_magnitude(wave[None]), device)
        mask = lmac_masks(classifier, decoder, x)
        p = classifier.probabilities(x)[0]
        stem = Path(name).stem
        write_wav(folder / f"user_{stem}_lmac.wav", world.spectral.listenable(mask[0].cpu().numpy(), wave), sr)
        out.append({"file": name, "predicted": world.classes[int(p.argmax())], "p_max": float(p.max()),
                    "mask_mean": float(mask.mean())})
    pd.DataFrame(out).to_csv(ctx.path("user_files.csv"), index=False)


def _report(cfg, ctx, df: pd.DataFrame, random_df: pd.DataFrame, domains: list[str]) -> ScenarioResult:
    df.to_csv(ctx.path("results.csv"), index=False)
    table = ci_table(df, ["domain", "method"], METRICS, digits=3)
    table = [{(f"{k} {HIGHER[k]}" if k in HIGHER else k): v for k, v in r.items()} for r in table]
    notes = [f"\nmean ± 95 % CI over {cfg.n_seeds} seeds, {cfg.data.n_eval} test clips per domain and seed "
             f"(unseen speakers). Chance levels: 'random mask' (i.i.d. U[0,1]) and 'all-ones mask' (masked-in = "
             "input: AI = AD = AG = 0, Fid-In = 1, FF = p_c − p_c(0·X)); 'oracle IBM' is the upper bound for "
             "mask IoU and SI-SDR. AD uses single-softmax probabilities; the recipe's double-softmax AD is in its "
             "own column (published AD values are of that kind)."]
    acc = df.groupby(["domain", "seed"])["classifier_acc"].first().groupby("domain").mean()
    notes.append("classifier accuracy (mean over seeds): "
                 + ", ".join(f"{k} {acc[k]:.3f}" for k in domains if k in acc) + ".")
    if len(random_df):
        random_df.to_csv(ctx.path("randomisation.csv"), index=False)
        last = random_df[random_df["stage"] == random_df["stage"].max()]
        notes.append("cascading randomisation, Spearman ρ with the trained model's masks after re-initialising "
                     "every layer (lower = explanation depends on the model): "
                     + ", ".join(f"{m} {v:.3f}" for m, v in last.groupby("method", sort=False)["spearman"].mean().items())
                     + ".")
        line_with_ci(random_df, "stage", "spearman", "method", ctx.path("randomisation.png"),
                     xlabel="layers re-initialised (0: none, 1: head, 2: + block 4, …, 5: all)",
                     ylabel="Spearman ρ with the original masks",
                     title="Cascading model randomisation (mean ± 95% CI over seeds)")
    ctx.path("table.md").write_text(markdown_table(table) + "\n" + "\n".join(notes) + "\n")
    metric_bars(df, ["AI", "FF", "Fid-In", "AD"], ctx.path("faithfulness.png"),
                "Faithfulness per method and domain (mean ± 95% CI over seeds)")
    metric_bars(df, ["mask IoU", "SI-SDR", "SPS", "COMP"], ctx.path("quality.png"),
                "Mask quality vs the oracle and listenability (mean ± 95% CI over seeds)")
    means = df.groupby(["arm", "domain"])[METRICS].mean()
    metrics = {f"{arm}_{domain}_{m}".replace(" ", "_").replace("(", "").replace(")", "").replace(",", ""): float(v)
               for (arm, domain), row in means.iterrows() for m, v in row.items()}
    metrics["classifier_acc_in_domain"] = float(acc.get("in_domain", np.nan))
    return ScenarioResult(metrics=metrics, table=table)


PRESETS = {
    "smoke": {"n_seeds": 2,
              "data": {"n_classes": 3, "n_speakers": 10, "n_train": 48, "n_eval": 6, "ood_modes": ["ood_white"]},
              "classifier": {"epochs": 1, "batch_size": 16}, "lmac": {"epochs": 1, "ft_epochs": 1},
              "baselines": {"ig_steps": 4, "smoothgrad_samples": 3},
              "eval": {"randomisation_clips": 4, "n_wavs": 1, "n_figure_clips": 2}},
    "cpu": {},
    "paper": {"n_seeds": 5,
              "data": {"n_speakers": 200, "n_train": 20_000, "n_eval": 1000},
              "classifier": {"widths": [64, 128, 256, 512], "epochs": 30},
              "lmac": {"epochs": 200, "ft_epochs": 200, "hidden": 256},
              "baselines": {"ig_steps": 64},
              "eval": {"randomisation_clips": 200, "randomisation_methods": list(GRADIENT_METHODS)},
              "torch_threads": 0},
}

CLAIM = Claim(
    statement=("L-MAC is more faithful than the gradient baselines (higher FF and AI, in and out of domain) and its "
               "listenable output matches the clean target better (SI-SDR)"),
    source="Paissan, Ravanelli, Subakan, ICML 2024 (arXiv 2403.13086)",
    rules=(Better("FF", "lmac", "gradcam", key="arm", where=(("domain", "in_domain"),)),
           Better("AI", "lmac", "gradcam", key="arm", where=(("domain", "in_domain"),)),
           Better("FF", "lmac", "gradcam", key="arm", where=(("domain", "ood_babble"),)),
           Better("AI", "lmac", "gradcam", key="arm", where=(("domain", "ood_babble"),)),
           Better("SI-SDR", "lmac_ft", "gradcam", key="arm", where=(("domain", "in_domain"),))),
    chance={"AI": "random / all-ones mask rows (all-ones: 0)", "FF": "random mask row", "Fid-In": "all-ones: 1",
            "SI-SDR": "mixture ≈ all-ones row; oracle IBM row = upper bound"},
)

SCENARIO = Scenario(
    name="audio_explanations",
    description="L-MAC vs captum gradient baselines on eSpeak NG spoken digits in noise: faithfulness, SI-SDR, OOD",
    config=AudioExplanationsConfig,
    run=run,
    presets=PRESETS,
    main_metric="lmac_in_domain_FF",
    claim=CLAIM,
)
