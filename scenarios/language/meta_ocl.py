"""``meta_ocl``: meta-(out-of-context) learning on the set-inclusion task with a tiny transformer from scratch.

Per cell (tag predictiveness α, batch size) and stage-1 seed (Krasheninnikov et al. 2023/2024, reference code
``krasheninnikov/internalization``; protocol pre-registered in ``docs/meta_ocl.md``):

1. build the two-stage curriculum (:func:`envs.tasks.set_inclusion.make_set_inclusion`);
2. stage 1: train a fresh tiny causal LM on the QA of qd1consis/qd1incons/qd2consis/qd2incons/q plus their
   ``define1`` / ``define2`` definitions; EM per subset on held-out QA;
3. stage 2 (per stage-2 seed, which re-draws which held-out variables are d1/d2/d3): continue on the d1/d2/d3
   definitions only (fresh optimiser); EM per subset again. d* variables never appear in QA.

Out-of-context learning: after stage 1, EM(qd1consis) > EM(q) > EM(qd2incons). Meta-OCL (IML): after stage 2,
EM(d1consis) > EM(d2consis); the gap should vanish at α = 0.5 and shrink under full-batch training. Cells × seeds
run through the project's executors (``executor=process`` uses both cores). Chance EM = 0.5 (balanced true/false).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from agents.language import (
    ExactMatchEvaluator,
    TextConfig,
    TinyCausalLM,
    WordLevelTokenizer,
    greedy_decode,
    load_pretrained_lm,
    train_causal_lm,
)
from envs.tasks.qa_env import SetInclusionQAEnv
from envs.tasks.set_inclusion import VAR_TOKENS, make_set_inclusion
from scenarios.claims import Claim
from scenarios.language.figures import em_by_subset, gap_by_cell
from scenarios.language.protocol import (
    RULES,
    Job,
    SubsetFractions,
    SweepFields,
    common_checks,
    em_table,
    gap_rows,
    gap_summary,
    jobs_of,
    outcome_metrics,
    raise_failed,
    run_jobs,
    with_primary,
)
from scenarios.registry import Scenario, ScenarioResult
from scenarios.rundir import RunContext
from scenarios.stats import markdown_table
from scenarios.validation import param


@dataclass
class DataConfig(SubsetFractions):  # + tag1, tag2, q, d1, d2, d3 (fractions of the variables per subset)
    num_x: int = param(500, ge=20, le=10_000_000)  # variables (hidden numbers); the reference uses 8000
    n_nums: int = param(4, ge=1, le=1000)  # numbers listed per question (reference 8)
    n_intersection: int = param(1, ge=1, le=1000)  # |I|: 1 = the training QA pins x
    n_questions: int = param(96, ge=4, le=10_000)  # per x, a multiple of 4, half train, half test (reference 24)
    max_x: int = param(99, ge=3, le=100_000)  # x ∈ {0, …, max_x − 1}
    p_flip: float = param(0.0, ge=0, le=1)  # train-true labels flipped to false
    var_tokens: str = param("word", choices=VAR_TOKENS)  # one word per variable | its 3 letters


@dataclass
class ModelConfig:
    width: int = param(64, ge=4, le=65_536)
    depth: int = param(2, ge=1, le=256)
    heads: int = param(4, ge=1, le=256)
    mlp_ratio: float = param(4.0, gt=0, le=64)
    pretrained_path: str = ""  # a local Hugging Face causal LM directory instead of the tiny model (no downloads)


@dataclass
class TrainConfig:
    epochs_stage1: int = param(20, ge=1, le=1_000_000)  # reference (Pythia-70M, 24 questions per x): 100
    epochs_stage2: int = param(60, ge=1, le=1_000_000)  # reference: 40 (ours: until the definitions are learned)
    lr: float = param(2e-3, gt=0, le=10)  # peak; linear to 0 per stage, fresh optimiser per stage
    weight_decay: float = param(0.0, ge=0, le=10)
    loss_on: str = param("answer", choices=("all", "answer"))  # every token (reference) | answer + end only


@dataclass
class MetaOCLConfig(SweepFields):  # + alphas, batch_sizes, n_seeds, n_stage2_seeds, executor, workers, torch_threads
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    max_new_tokens: int = param(2, ge=1, le=64)  # greedy answer tokens (answer + end marker)
    env_check: bool = True  # answer seed 0's d1consis questions through recast/SetInclusionQA-v0 too

    def validate(self) -> None:
        d = self.data
        raise_failed([
            *common_checks(self),
            (d.n_questions % 4 == 0, f"data.n_questions must be a multiple of 4, got {d.n_questions}"),
            (d.n_intersection <= d.n_nums < d.max_x, "need data.n_intersection <= data.n_nums < data.max_x"),
            (d.var_tokens == "letters" or d.num_x <= 26 ** 3, "data.num_x > 26³ needs distinct 3-letter names"),
        ])


def _curriculum(cfg: MetaOCLConfig, alpha: float, seed: int, stage2_seed: int):
    d = cfg.data
    fractions = d.fractions(alpha)
    return make_set_inclusion(num_x=d.num_x, seed=seed, stage2_seed=stage2_seed, n_nums=d.n_nums,
                              n_intersection=d.n_intersection, n_questions=d.n_questions, max_x=d.max_x,
                              p_flip=d.p_flip, var_tokens=d.var_tokens, fractions=fractions)


def _learner(cfg: MetaOCLConfig, vocabulary: list[str], block: int, device: str):
    if cfg.model.pretrained_path:
        return load_pretrained_lm(cfg.model.pretrained_path, device)
    tok = WordLevelTokenizer(vocabulary)
    m = cfg.model
    lm = TinyCausalLM(TextConfig(vocab_size=len(tok), max_len=block, width=m.width, depth=m.depth,
                                   heads=m.heads, mlp_ratio=m.mlp_ratio, pad_id=tok.pad_id)).to(device)
    return lm, tok


def _train(cfg: MetaOCLConfig, lm, tok, texts: list[str], epochs: int, batch_size: int, block: int,
           generator: torch.Generator, log: list, tag: dict):
    ids, lengths = tok.encode_batch(texts, block)
    loss_from = lengths - 1 if cfg.train.loss_on == "answer" else None

    def on_epoch(epoch: int, loss: float) -> None:
        log.append({**tag, "epoch": epoch + 1, "train_loss": loss})

    return train_causal_lm(lm, ids, lengths, epochs=epochs, batch_size=batch_size, lr=cfg.train.lr,
                           weight_decay=cfg.train.weight_decay, loss_from=loss_from, generator=generator,
                           on_epoch=on_epoch)


def _evaluate(evaluator: ExactMatchEvaluator, lm, world, base: dict) -> list[dict]:
    return [{**base, "subset": k, "em": float(evaluator(lm, world.eval[k]).mean()), "n_questions": len(world.eval[k])}
            for k in world.eval_subsets]


def _env_em(lm, tok, world, max_new_tokens: int, device: str) -> float:
    """d1consis EM answered one question per step through ``recast/SetInclusionQA-v0`` (a check on the batch path)."""
    env = SetInclusionQAEnv(subset="d1consis", curriculum=world, answer_tokens=max_new_tokens)
    obs, _ = env.reset(seed=0)
    rewards, done = [], False
    while not done:
        prompt = torch.as_tensor(obs[obs != env.pad_id], device=device)[None]
        answer = greedy_decode(lm, prompt, max_new_tokens, tok.stop_id)[0].cpu().numpy()
        obs, reward, done, _, _ = env.step(answer)
        rewards.append(reward)
    return float(np.mean(rewards))


def run_job(job: Job) -> dict:
    """Stage 1, evaluation, then per stage-2 seed: stage 2 from a copy of the stage-1 model, evaluation."""
    cfg = job.cfg
    if job.device == "cpu" and cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    world = _curriculum(cfg, job.alpha, job.seed, job.stage2_seeds[0])
    block = max(len(t.split()) for t in world.stage1 + world.stage2) + 1
    torch.manual_seed(job.seed)
    lm, tok = _learner(cfg, world.vocabulary, block, job.device)
    evaluator = ExactMatchEvaluator(tok, cfg.max_new_tokens, device=job.device)
    base = {"alpha": job.alpha, "batch_size": job.batch_size, "seed": job.seed_index}
    log: list[dict] = []
    gen = torch.Generator().manual_seed(job.seed)
    s1 = _train(cfg, lm, tok, world.stage1, cfg.train.epochs_stage1, job.batch_size, block, gen, log,
                {**base, "stage": 1})
    rows = [{**r, "stage2_seed": -1} for r in _evaluate(evaluator, lm, world, {**base, "stage": 1})]
    training = [{**base, "stage": 1, "stage2_seed": -1, "sequences": len(world.stage1), "tokens": s1.tokens,
                 "seconds": s1.seconds, "tokens_per_s": s1.tokens_per_s, "final_loss": s1.epoch_losses[-1]}]
    env_em = math.nan
    for k, s2_seed in enumerate(job.stage2_seeds):
        world2 = world if k == 0 else _curriculum(cfg, job.alpha, job.seed, s2_seed)
        lm2 = copy.deepcopy(lm)
        gen2 = torch.Generator().manual_seed(job.seed * 1000 + k)
        s2 = _train(cfg, lm2, tok, world2.stage2, cfg.train.epochs_stage2, job.batch_size, block, gen2, log,
                    {**base, "stage": 2, "stage2_seed": k})
        rows += [{**r, "stage2_seed": k} for r in _evaluate(evaluator, lm2, world2, {**base, "stage": 2})]
        training.append({**base, "stage": 2, "stage2_seed": k, "sequences": len(world2.stage2), "tokens": s2.tokens,
                         "seconds": s2.seconds, "tokens_per_s": s2.tokens_per_s, "final_loss": s2.epoch_losses[-1]})
        if job.env_check and k == 0:
            env_em = _env_em(lm2, tok, world2, cfg.max_new_tokens, job.device)
    return {"rows": rows, "training": training, "log": log, "env_em_d1consis": env_em}


def run(cfg: MetaOCLConfig, ctx: RunContext) -> ScenarioResult:
    results = run_jobs(cfg, ctx, jobs_of(cfg, ctx, cfg.env_check), run_job)
    primary = cfg.primary
    df = with_primary(pd.DataFrame([r for res in results for r in res["rows"]]), primary)
    df.to_csv(ctx.path("results.csv"), index=False)
    training = pd.DataFrame([t for res in results for t in res["training"]])
    training.to_csv(ctx.path("training.csv"), index=False)
    gaps = gap_rows(df)
    gaps.to_csv(ctx.path("gaps.csv"), index=False)

    ems = em_table(df)
    gap_table = gap_summary(gaps)
    speed = training[training["stage"] == 1]
    env_em = [r["env_em_d1consis"] for r in results if math.isfinite(r["env_em_d1consis"])]
    note = (f"\nEM = exact match of the greedy answer on held-out set-inclusion questions; chance = 0.5 (balanced "
            f"true/false). Mean ± 95 % CI over {cfg.n_seeds} stage-1 seeds ({cfg.n_stage2_seeds} stage-2 seed(s) "
            f"averaged per seed). Gap = EM(d1consis) − EM(d2consis) after stage 2, paired by seed; p: one-sided "
            f"paired t-test (gap > 0) and Wilcoxon signed-rank. Stage-1 training speed: "
            f"{speed['tokens_per_s'].mean():,.0f} tokens/s per job ({cfg.torch_threads} torch thread(s), "
            f"device {ctx.device}).\n")
    ctx.path("table.md").write_text("## EM per subset\n\n" + markdown_table(ems) + "\n\n## d1 − d2 gap\n\n"
                                    + markdown_table(gap_table) + "\n" + note)
    em_by_subset(df[df["primary"]], ctx.path("em_by_subset.png"),
                 title=f"EM per subset, α = {primary[0]:g}, batch {primary[1]} (mean ± 95% CI)")
    gap_by_cell(gaps, ctx.path("gap.png"))
    metrics = _metrics(df, gaps, speed, env_em, primary)
    return ScenarioResult(metrics=metrics, table=ems + gap_table)


def _metrics(df: pd.DataFrame, gaps: pd.DataFrame, speed: pd.DataFrame, env_em: list[float],
             primary: tuple[float, int]) -> dict[str, float]:
    metrics = outcome_metrics(df, gaps, primary)
    metrics["train_tokens_per_s"] = float(speed["tokens_per_s"].mean())
    if env_em:
        metrics["env_em_d1consis"] = float(np.mean(env_em))
        metrics["batched_em_d1consis_seed0"] = float(df[df["primary"] & (df["stage"] == 2) & (df["seed"] == 0) &
                                                        (df["subset"] == "d1consis") & (df["stage2_seed"] == 0)]
                                                     ["em"].iloc[0])
    return {k: float(v) for k, v in metrics.items()}


PRESETS = {
    "smoke": {"data": {"num_x": 60, "n_questions": 24}, "model": {"width": 16, "depth": 1, "heads": 2},
              "train": {"epochs_stage1": 2, "epochs_stage2": 1}, "n_seeds": 2, "executor": "serial",
              "alphas": [1.0, 0.5]},
    "cpu": {},
    # the α sweep (α = 0.5 is the negative control) and the batch-size sweep at the cpu preset's size
    "alpha_sweep": {"alphas": [1.0, 0.75, 0.5]},
    "batch_sweep": {"batch_sizes": [64, 16, 256]},
    # the reference's from-scratch config (cf/num_choice_exps/pythia70m_tokpervar_bs512_n8_i1.yaml), Pythia-70M-sized
    "paper": {"data": {"num_x": 8000, "n_nums": 8, "n_questions": 24, "tag1": 0.4, "tag2": 0.4, "q": 0.0,
                       "d1": 0.1, "d2": 0.1, "d3": 0.0},
              "model": {"width": 512, "depth": 6, "heads": 8},
              "train": {"epochs_stage1": 100, "epochs_stage2": 40, "lr": 1e-3, "loss_on": "all"},
              "batch_sizes": [512], "n_seeds": 20, "n_stage2_seeds": 3, "torch_threads": 0, "executor": "serial"},
}

CLAIM = Claim(
    statement="After stage 2, EM(d1consis) > EM(d2consis): new definitions with the reliable tag are internalised "
              "more (pre-registered: paired 95 % CI of the gap over stage-1 seeds, primary cell); after stage 1 "
              "EM(qd1consis) > EM(q) > EM(qd2incons)",
    source="Krasheninnikov et al., ICML 2024 (arXiv 2310.15047), set-inclusion task from scratch",
    rules=RULES,
    chance={"EM": "0.5 (half of the held-out questions are true)", "d1 − d2 gap": "0"},
)

SCENARIO = Scenario(
    name="meta_ocl",
    description="Meta-(out-of-context) learning: two-stage define-tag curriculum, tiny transformer, d1 − d2 gap",
    config=MetaOCLConfig,
    run=run,
    presets=PRESETS,
    main_metric="gap",
    claim=CLAIM,
)
