"""Classification worlds: digits (and a synthetic CIFAR-shaped set) as task streams and a Gymnasium env.

    from envs.tasks import make_tasks
    tasks = make_tasks("digits", stream="split", n_tasks=5, seed=0)   # 5 tasks × 2 classes
    env = gymnasium.make("recast/DigitsClassify-v0", stream="split", task=2)
"""

from __future__ import annotations

from envs.tasks.data import SOURCES, STREAMS, TaskData, make_tasks, minibatches, split_arrays, with_label_noise

__all__ = ["SOURCES", "STREAMS", "TaskData", "make_tasks", "minibatches", "split_arrays", "with_label_noise"]
