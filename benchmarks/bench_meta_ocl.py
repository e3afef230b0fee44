"""Training tokens/s of the tiny causal LM (``meta_ocl``) against PyTorch's own transformer, and batched vs
one-question-at-a-time greedy evaluation.

Run ``python -m benchmarks.bench_meta_ocl [--width 64] [--depth 2] [--batch 64] [--device cpu] [--repeats 7]``.

Training: AdamW steps on set-inclusion sequences (the ``cpu`` preset's shapes: 4 listed numbers, block 9), loss
on the answers (``loss_on=answer``). Baseline: ``torch.nn.TransformerEncoder`` (pre-LN, GELU, same width, depth,
heads and MLP ratio, causal mask) with the same embeddings and tied head. Evaluation: the
:class:`ExactMatchEvaluator` (batched greedy decoding) against answering the same questions one by one, as the
Gymnasium env does. Arms are timed round-robin; medians over repeats; tokens = real tokens incl. end markers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from agents.language import ExactMatchEvaluator, TinyCausalLM, TextConfig, WordLevelTokenizer, causal_lm_loss
from agents.language.decoding import greedy_decode
from envs.tasks.set_inclusion import make_set_inclusion


class TorchBaselineLM(nn.Module):
    """The same LM on ``nn.TransformerEncoder`` (norm_first, GELU): the peer implementation to beat."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos = nn.Parameter(torch.randn(1, cfg.max_len, cfg.width) * 0.02)
        layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, int(cfg.width * cfg.mlp_ratio), dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(cfg.width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=ids.device)
        x = self.blocks(self.embed(ids) + self.pos[:, :t], mask=mask, is_causal=True)
        return self.ln(x) @ self.embed.weight.T


def time_training(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Seconds for one AdamW step (answer-only CLM loss) on each (ids, lengths) minibatch."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for ids, lengths in batches:
        loss = causal_lm_loss(model(ids), ids, lengths, lengths - 1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20, help="training steps per timed repeat")
    parser.add_argument("--questions", type=int, default=400, help="questions per evaluation repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave as is)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    world = make_set_inclusion(num_x=1000, n_nums=4, seed=0)
    tok = WordLevelTokenizer(world.vocabulary)
    block = max(len(t.split()) for t in world.stage1) + 1
    ids, lengths = tok.encode_batch(world.stage1[: args.batch * args.steps], block)
    ids, lengths = ids.to(args.device), lengths.to(args.device)
    cfg = TextConfig(vocab_size=len(tok), max_len=block, width=args.width, depth=args.depth, heads=args.heads,
                       pad_id=tok.pad_id)
    torch.manual_seed(0)
    models = {"TinyCausalLM (shared blocks)": TinyCausalLM(cfg).to(args.device),
              "nn.TransformerEncoder baseline": TorchBaselineLM(cfg).to(args.device)}
    batches = list(zip(ids.split(args.batch), lengths.split(args.batch)))
    tokens = int((lengths + 1).clamp(max=block).sum())
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name].append(time_training(model, batches))
    print(f"training: {args.steps} steps × batch {args.batch}, width {args.width}, depth {args.depth}, "
          f"{args.device}, {torch.get_num_threads()} thread(s)")
    base = np.median(times["nn.TransformerEncoder baseline"])
    for name, ts in times.items():
        ratio = np.median(ts) / base
        print(f"  {name:32s} {tokens / np.median(ts):10,.0f} tokens/s   time ratio vs baseline {ratio:.2f}")

    pairs = world.eval["q"][: args.questions]
    model = models["TinyCausalLM (shared blocks)"].eval()
    evaluator = ExactMatchEvaluator(tok, max_new_tokens=2, device=args.device)
    prompts = [torch.tensor([tok.encode(p)], device=args.device) for p, _ in pairs]
    batched, single = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        evaluator(model, pairs)
        batched.append(time.perf_counter() - start)
        start = time.perf_counter()
        for prompt in prompts:
            greedy_decode(model, prompt, 2, tok.stop_id)
        single.append(time.perf_counter() - start)
    print(f"evaluation of {len(pairs)} questions: batched {len(pairs) / np.median(batched):,.0f} questions/s, "
          f"one at a time {len(pairs) / np.median(single):,.0f} questions/s "
          f"(speed-up {np.median(single) / np.median(batched):.1f}×)")


if __name__ == "__main__":
    main()
