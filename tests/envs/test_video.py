"""MovingDigits-in-clutter videos: exact boxes and masks, occlusion, splits, determinism, and the streaming env."""

from __future__ import annotations

import warnings
from dataclasses import replace

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers recast/*)
from envs.media.video import VideoSpec, box_iou, mask_boxes, sample_videos, split_indices
from envs.media.video_env import VideoLocalizationEnv
from envs.tasks.digits import digits_images

SPEC = VideoSpec(n_frames=6)


@pytest.fixture(scope="module")
def videos():
    return sample_videos(SPEC, 24, np.random.default_rng(0), "train")


def test_boxes_are_the_tight_boxes_of_the_masks(videos) -> None:
    masks = videos.masks.reshape(-1, SPEC.frame_size, SPEC.frame_size)
    boxes = videos.boxes.reshape(-1, 4)
    assert masks.any((1, 2)).all()  # the tagged digit is visible in every frame
    for mask, (x0, y0, x1, y1) in zip(masks, boxes):
        rows, cols = np.nonzero(mask)
        assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        inside = np.zeros_like(mask)
        inside[int(y0):int(y1), int(x0):int(x1)] = True
        assert not (mask & ~inside).any()  # the box contains the mask


def test_mask_boxes_hand_cases() -> None:
    mask = np.zeros((2, 5, 7), dtype=bool)
    mask[0, 2, 3] = True  # one pixel at row 2, column 3
    assert mask_boxes(mask).tolist() == [[3, 2, 4, 3], [0, 0, 0, 0]]  # (x0, y0, x1, y1); empty → zeros


def test_box_iou_hand_values() -> None:
    a = np.array([0, 0, 2, 2])
    assert box_iou(a, [1, 1, 3, 3]) == pytest.approx(1 / 7)  # overlap 1, union 4 + 4 − 1
    assert box_iou(a, a) == 1.0 and box_iou(a, [2, 2, 4, 4]) == 0.0
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_occluded_pixels_leave_the_mask_and_show_the_occluder() -> None:
    # Same seed: the scene is identical up to the bar, which is drawn only when occlusion_prob = 1.
    clean = replace(SPEC, noise=0.0, occlusion_prob=0.0)
    bare = sample_videos(clean, 16, np.random.default_rng(3), "test")
    barred = sample_videos(replace(clean, occlusion_prob=1.0), 16, np.random.default_rng(3), "test")
    assert np.array_equal(bare.labels, barred.labels) and not bare.occluded.any()
    assert barred.occluded.mean() > 0.1
    hidden = bare.masks & ~barred.masks
    assert not (barred.masks & ~bare.masks).any()  # occlusion only removes pixels
    assert np.array_equal(hidden.any((-2, -1)), barred.occluded)
    assert barred.masks.any((-2, -1)).all()  # never hides the whole digit
    for v in np.unique(np.nonzero(hidden)[0]):  # hidden pixels show one flat occluder colour, not the digit
        colours = barred.frames[v][hidden[v]]
        assert (colours == colours[0]).all()
        assert not np.array_equal(colours, bare.frames[v][hidden[v]])
    # the box follows the visible part: inside the unoccluded box
    occ = barred.occluded
    b, a = barred.boxes[occ], bare.boxes[occ]
    assert (b[:, :2] >= a[:, :2]).all() and (b[:, 2:] <= a[:, 2:]).all()


def test_same_seed_same_videos_and_splits_are_disjoint() -> None:
    a = sample_videos(SPEC, 4, np.random.default_rng(7), "val")
    b = sample_videos(SPEC, 4, np.random.default_rng(7), "val")
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.boxes, b.boxes)
    parts = [set(split_indices(s)) for s in ("train", "val", "test")]
    assert sum(map(len, parts)) == 1797 and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set(a.source) <= parts[1]
    _, targets = digits_images()
    assert np.array_equal(a.labels, targets[a.source])  # the tag is the source digit's class


def test_bad_spec_is_rejected() -> None:
    with pytest.raises(ValueError):
        sample_videos(replace(SPEC, digit_max=40), 1, np.random.default_rng(0))
    with pytest.raises(ValueError):
        VideoLocalizationEnv(split="holdout")


def test_registered_env_passes_check_env_and_rewards_iou() -> None:
    env = gymnasium.make("recast/VideoLocalization-v0", n_frames=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=5)
    truth = env.unwrapped._video.boxes[0]
    assert obs["frame"].shape == (64, 64, 3) and obs["tag"] == env.unwrapped._video.labels[0]
    rewards = []
    for t in range(4):  # answer each frame with its true box
        assert np.array_equal(obs["frame"], env.unwrapped._video.frames[0, t])
        obs, reward, terminated, truncated, info = env.step(truth[t] / 64)
        rewards.append(reward)
        assert info["t"] == t and np.array_equal(info["box"], truth[t]) and not truncated
        assert terminated == (t == 3)
    assert rewards == pytest.approx([1.0] * 4)
    env.reset(seed=5)
    _, reward, *_ = env.step(np.array([0.0, 0.0, 1.0, 1.0]))  # the whole frame: IoU = box area / 64²
    x0, y0, x1, y1 = truth[0]
    assert reward == pytest.approx((x1 - x0) * (y1 - y0) / 64 ** 2)


def test_render_draws_both_boxes() -> None:
    env = VideoLocalizationEnv(render_mode="rgb_array", n_frames=2)
    env.reset(seed=0)
    env.step(np.array([0.1, 0.1, 0.5, 0.5], dtype=np.float32))
    image = env.render()
    assert image.shape == (256, 256, 3) and image.dtype == np.uint8
    assert (image == 255).all(-1).any() and (image == [0, 255, 0]).all(-1).any()
