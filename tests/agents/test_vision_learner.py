"""The digits meta-OCL learner: shapes, the tied entity head, the two routes, training and prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.language.vision_learner import (
    CellLearnerConfig,
    CellTransformer,
    predict_cells,
    to_tensors,
    train_cells,
)

E, T = 12, 4


def _batch(n: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 10, size=(n, T))
    code = np.full((n, T), -1)
    cells[0, 1:], code[0, -1] = -1, 3  # a knowledge question: code at the last position
    head = np.array([0, 0, 0, 1, 1, 0])[:n]  # answer | entity
    target = np.where(head == 0, rng.integers(0, 10, n), rng.integers(0, E, n))
    return {"images": rng.random((n, T, 8, 8)).astype(np.float32), "cells": cells, "code": code, "head": head,
            "target": target}


@pytest.mark.parametrize("route", ["direct", "entity"])
def test_shapes_heads_and_a_finite_loss(route) -> None:
    torch.manual_seed(0)
    model = CellTransformer(CellLearnerConfig(n_entities=E, length=T, width=16, depth=1, heads=2, route=route))
    b = to_tensors(_batch(), "cpu")
    h = model(b["images"], b["cells"], b["code"])
    assert h.shape == (6, 16)
    assert model.answer_logits(h).shape == (6, 10) and model.entity_logits(h).shape == (6, E)
    assert torch.allclose(model.entity_logits(h), h @ model.code.weight.T)  # tied to the entity codes
    loss = model.loss(b)
    loss.backward()
    assert torch.isfinite(loss) and model.code.weight.grad is not None
    predictions = model.predict(b)
    assert predictions.shape == (6,) and bool((predictions[b["head"] == 0] < 10).all())
    assert model.digit_logits(b["images"][:, 0]).shape == (6, 10)


def test_entity_route_answers_a_variable_question_through_a_soft_entity() -> None:
    torch.manual_seed(0)
    cfg = CellLearnerConfig(n_entities=E, length=T, width=16, depth=1, heads=2)
    model = CellTransformer(cfg).eval()
    direct = CellTransformer(CellLearnerConfig(**{**cfg.__dict__, "route": "direct"})).eval()
    direct.load_state_dict(model.state_dict())
    b = to_tensors(_batch(), "cpu")
    with torch.no_grad():
        routed, plain = model.answer_state(b["images"], b["cells"], b["code"]), direct.answer_state(
            b["images"], b["cells"], b["code"])
        assert torch.allclose(routed[0], plain[0])  # a knowledge question takes one pass either way
        assert not torch.allclose(routed[1:], plain[1:])
        # the second pass sees only the slot and the soft entity: the variable's other pixels cannot matter
        # beyond the soft entity, so swapping the code table for one entity makes every row answer alike
        model.code.weight.copy_(model.code.weight[:1].expand(E, -1))
        same = model.answer_state(b["images"][1:3], b["cells"][1:3], b["code"][1:3])
        b2 = {k: v[1:3].clone() for k, v in b.items()}
        b2["images"][:, 1:] = torch.rand_like(b2["images"][:, 1:])
        assert torch.allclose(same, model.answer_state(b2["images"], b2["cells"], b2["code"]), atol=1e-5)
    untied = CellTransformer(CellLearnerConfig(n_entities=E, length=T, width=16, depth=1, heads=2,
                                               tie_entity_head=False))
    assert untied.entity_head is not None and untied.entity_logits(torch.zeros(2, 16)).shape == (2, E)
    with pytest.raises(ValueError):
        CellLearnerConfig(n_entities=E, width=10, heads=4).validate()
    with pytest.raises(ValueError):
        CellLearnerConfig(n_entities=E, route="loop").validate()


def test_training_fits_a_tiny_task_deterministically() -> None:
    data = _batch(6, seed=1)

    def draw(rows: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {k: v[rows] for k, v in data.items()}

    def fit() -> tuple[list[float], np.ndarray]:
        torch.manual_seed(0)
        model = CellTransformer(CellLearnerConfig(n_entities=E, length=T, width=16, depth=1, heads=2))
        digits = (data["images"][:, 0], data["cells"][:, 0])
        stats = train_cells(model, 6, draw, epochs=60, batch_size=3, lr=3e-3, rng=np.random.default_rng(0),
                            digits=digits)
        assert stats.steps == 120 and stats.examples == 360 and stats.examples_per_s > 0
        return stats.epoch_losses, predict_cells(model, 6, draw, np.random.default_rng(0), batch_size=4)

    (losses, predictions), (again, _) = fit(), fit()
    assert losses == again and losses[-1] < 0.25 * losses[0]
    assert np.mean(predictions == data["target"]) >= 5 / 6
    with pytest.raises(ValueError):
        train_cells(CellTransformer(CellLearnerConfig(n_entities=E)), 0, draw, epochs=1, batch_size=1, lr=1e-3,
                    rng=np.random.default_rng(0))
