"""MovingDigits-in-clutter: short videos of one tagged digit moving over texture, with exact boxes and masks.

The TrCAM-V stand-in world (spec §5). Each video shows one digit of scikit-learn's bundled ``load_digits``
(8 × 8, upsampled to ``digit_min``–``digit_max`` px, colourised) bouncing over a drifting texture
(stripes, checks, waves or rings) with a smooth scale jitter, among low-contrast distractor digits of *other*
classes, and sometimes passing behind a static bar (occlusion). The video's only label is its digit class;
the ground truth for evaluation is exact: the per-frame mask of the digit's *visible* ink and its tight box.

Rendering is vectorised over every frame: the axis-aligned bilinear resampling of an 8 × 8 digit into the
frame is separable, ``out_f = R^y_f · D_f · (R^x_f)ᵀ`` with tent-weight matrices R (frame px × 8).

    spec = VideoSpec()
    videos = sample_videos(spec, 32, np.random.default_rng(0), "train")
    videos.frames  # (32, 16, 64, 64, 3) uint8; videos.masks (32, 16, 64, 64) bool; videos.boxes (32, 16, 4)

Boxes are ``(x0, y0, x1, y1)`` in pixel-edge coordinates (x1, y1 exclusive), so a box's area is
(x1 − x0)(y1 − y0) pixels and the box of a one-pixel mask at (r, c) is (c, r, c + 1, r + 1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from envs.media.captions import PAD, Vocabulary
from envs.tasks.digits import digits_images

CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEXTURES = ("stripes", "checks", "waves", "rings")
VIDEO_VOCAB = Vocabulary((PAD, "a", "on", *CLASS_NAMES, *TEXTURES))
CAPTION_LEN = 4  # "a <class> on <texture>"
SPLITS = ("train", "val", "test")
INK = 0.35  # a digit pixel belongs to the object where its resampled intensity (in [0, 1]) reaches this


@dataclass(frozen=True)
class VideoSpec:
    """World geometry and difficulty. Sizes in pixels, speeds in pixels per frame."""

    frame_size: int = 64
    n_frames: int = 16
    digit_min: int = 16
    digit_max: int = 20
    speed_min: float = 1.0
    speed_max: float = 3.0
    scale_jitter: float = 0.1  # size varies as s·(1 + jitter·sin(ωt + φ))
    n_distractors: int = 2  # low-contrast digits of other classes per video
    distractor_contrast: float = 0.35  # their blending weight
    occlusion_prob: float = 0.5  # chance that a video has an occluding bar
    clutter: float = 0.5  # texture amplitude (0 = flat background)
    noise: float = 0.02  # per-pixel Gaussian noise (std, in [0, 1] intensity)

    def validate(self) -> None:
        if self.n_frames < 1 or self.digit_min < 8 or self.digit_max < self.digit_min:
            raise ValueError(f"need n_frames >= 1 and 8 <= digit_min <= digit_max, got {self}")
        if self.frame_size < 2 * self.digit_max:
            raise ValueError(f"frame_size ({self.frame_size}) must be >= 2 * digit_max ({self.digit_max})")
        if not 0 <= self.speed_min <= self.speed_max or not 0 <= self.scale_jitter < 0.5:
            raise ValueError("need 0 <= speed_min <= speed_max and 0 <= scale_jitter < 0.5")
        for name in ("distractor_contrast", "occlusion_prob", "clutter", "noise"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.n_distractors < 0:
            raise ValueError(f"n_distractors must be >= 0, got {self.n_distractors}")


@dataclass
class Videos:
    """A batch of N videos of T frames (H = W = frame size) and their ground truth."""

    frames: np.ndarray  # (N, T, H, W, 3) uint8
    masks: np.ndarray  # (N, T, H, W) bool — visible ink of the tagged digit
    boxes: np.ndarray  # (N, T, 4) float32 (x0, y0, x1, y1), tight around `masks`
    labels: np.ndarray  # (N,) int64 digit class: the video's only tag
    textures: np.ndarray  # (N,) int64 index into TEXTURES
    occluded: np.ndarray  # (N, T) bool — the bar hides part of the digit in this frame
    source: np.ndarray  # (N,) int64 index of the digit image in load_digits
    has_object: np.ndarray  # (N,) bool — False for background-only videos (``empty_fraction``)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> Videos:
        return Videos(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def captions(self) -> list[str]:
        """One caption per video: ``"a <class> on <texture>"``, or ``"<texture>"`` for a background-only video."""
        return [f"a {CLASS_NAMES[c]} on {TEXTURES[t]}" if o else TEXTURES[t]
                for c, t, o in zip(self.labels, self.textures, self.has_object)]

    def caption_tokens(self) -> np.ndarray:
        return VIDEO_VOCAB.encode_batch(self.captions(), CAPTION_LEN)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``(..., 4)`` in (x0, y0, x1, y1) form, broadcast over leading axes; empty ∩ empty = 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight boxes ``(..., 4)`` of boolean masks ``(..., H, W)``; an empty mask gives (0, 0, 0, 0)."""
    rows, cols = masks.any(-1), masks.any(-2)
    h, w = masks.shape[-2:]
    y0, y1 = rows.argmax(-1), h - rows[..., ::-1].argmax(-1)
    x0, x1 = cols.argmax(-1), w - cols[..., ::-1].argmax(-1)
    box = np.stack([x0, y0, x1, y1], axis=-1).astype(np.float32)
    return np.where(rows.any(-1)[..., None], box, 0.0).astype(np.float32)


def split_indices(split: str, n_images: int = 1797) -> np.ndarray:
    """Digit images of a split (60 / 20 / 20 % of a fixed permutation): videos are split by source image."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    order = np.random.default_rng(12345).permutation(n_images)
    cut = [0, int(0.6 * n_images), int(0.8 * n_images), n_images]
    i = SPLITS.index(split)
    return np.sort(order[cut[i]:cut[i + 1]])


def _tent(origin: np.ndarray, size: np.ndarray, n_pixels: int) -> np.ndarray:
    """(F, n_pixels, 8) bilinear weights mapping an 8-px digit placed at `origin` with `size` px onto the frame."""
    centres = np.arange(n_pixels) + 0.5
    u = (centres[None, :] - origin[:, None]) / size[:, None] * 8 - 0.5  # digit coordinate of each frame pixel
    return np.clip(1 - np.abs(u[..., None] - np.arange(8)), 0, None)


def _bounce(start: np.ndarray, velocity: np.ndarray, room: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positions in [0, room] of a point moving at `velocity` that reflects off both walls (triangle wave)."""
    q = np.mod(start[:, None] + velocity[:, None] * t[None, :], 2 * room)
    return room - np.abs(room - q)


def _render_digits(images: np.ndarray, x: np.ndarray, y: np.ndarray, size: np.ndarray, n: int) -> np.ndarray:
    """(F, n, n) intensity of 8×8 `images` (F, 8, 8) placed with top-left (x, y) and `size` px (separable)."""
    return np.einsum("fik,fkl,fjl->fij", _tent(y, size, n), images, _tent(x, size, n), optimize=True)


def _textures(kind: np.ndarray, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """(N, T, H, W) float32 texture patterns in [−1, 1], drifting with a per-video velocity."""
    n, t_len, h = shape
    freq = rng.uniform(0.15, 0.35, n).astype(np.float32)[:, None, None, None]
    theta = rng.uniform(0, np.pi, n).astype(np.float32)[:, None, None, None]
    drift = rng.uniform(-1.0, 1.0, (n, 2)).astype(np.float32)
    t = np.arange(t_len, dtype=np.float32)[None, :, None, None]
    yy, xx = np.mgrid[0:h, 0:h].astype(np.float32)
    out = np.empty((n, t_len, h, h), dtype=np.float32)
    for k in range(len(TEXTURES)):  # one vectorised pass per texture kind, over the videos of that kind
        i = np.flatnonzero(kind == k)
        if len(i) == 0:
            continue
        x = xx + drift[i, 0, None, None, None] * t
        y = yy + drift[i, 1, None, None, None] * t
        f, c, s = freq[i], np.cos(theta[i]), np.sin(theta[i])
        along, across = x * c + y * s, y * c - x * s
        if TEXTURES[k] == "stripes":
            out[i] = np.sin(f * along)
        elif TEXTURES[k] == "checks":
            out[i] = np.sign(np.sin(f * along) * np.sin(f * across))
        elif TEXTURES[k] == "waves":
            out[i] = 0.5 * (np.sin(f * along) + np.sin(1.7 * f * across))
        else:  # rings
            out[i] = np.sin(f * np.hypot(x - h / 2, y - h / 2))
    return out


def _colours(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """(n, 1, 1, 1, 3) float32 random colours, channels in [low, high], one pushed to `high` (saturated)."""
    c = rng.uniform(low, high, (n, 3))
    c[np.arange(n), rng.integers(0, 3, n)] = high
    return c.astype(np.float32)[:, None, None, None]


CHUNK = 32  # videos rendered per vectorised pass (bounds the float32 working set to ~100 MB at 64², T = 16)


def sample_videos(spec: VideoSpec, n: int, rng: np.random.Generator, split: str = "train",
                  empty_fraction: float = 0.0) -> Videos:
    """`n` seeded videos of `split`'s digit images (see the module docstring for the world).

    A fraction `empty_fraction` of the videos (chosen at random) shows no tagged digit: background and
    distractors only, empty masks and (0, 0, 0, 0) boxes (``has_object`` False) — "background" images.
    """
    spec.validate()
    if not 0.0 <= empty_fraction <= 1.0:
        raise ValueError(f"empty_fraction must be in [0, 1], got {empty_fraction}")
    if n > CHUNK:
        parts = [_sample_chunk(spec, min(CHUNK, n - start), rng, split, empty_fraction)
                 for start in range(0, n, CHUNK)]
        return Videos(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Videos)})
    return _sample_chunk(spec, n, rng, split, empty_fraction)


def _sample_chunk(spec: VideoSpec, n: int, rng: np.random.Generator, split: str, empty_fraction: float) -> Videos:
    images, targets = digits_images()
    pool = split_indices(split, len(targets))
    h, t_len = spec.frame_size, spec.n_frames
    t = np.arange(t_len, dtype=np.float64)
    source = rng.choice(pool, n)
    labels = targets[source]

    # the tagged digit: base size, smooth scale jitter, bouncing trajectory
    base = rng.uniform(spec.digit_min, spec.digit_max, n)
    phase, omega = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.2, 0.6, n)
    size = base[:, None] * (1 + spec.scale_jitter * np.sin(omega[:, None] * t + phase[:, None]))  # (N, T)
    speed, angle = rng.uniform(spec.speed_min, spec.speed_max, n), rng.uniform(0, 2 * np.pi, n)
    room = h - size
    x = _bounce(rng.uniform(0, h - spec.digit_max, n), speed * np.cos(angle), room, t)
    y = _bounce(rng.uniform(0, h - spec.digit_max, n), speed * np.sin(angle), room, t)
    digit = _render_digits(np.repeat(images[source, 0], t_len, 0), x.ravel(), y.ravel(), size.ravel(), h)
    digit = digit.reshape(n, t_len, h, h).astype(np.float32)
    has_object = rng.random(n) >= empty_fraction
    ink = (digit >= INK) & has_object[:, None, None, None]

    # background: a dull base colour plus a drifting texture in a second colour, scaled by `clutter`
    textures = rng.integers(0, len(TEXTURES), n)
    pattern = _textures(textures, (n, t_len, h), rng)
    base_colour, texture_colour = _colours(rng, n, 0.15, 0.55), _colours(rng, n, 0.0, 1.0)
    frames = base_colour + np.float32(0.5 * spec.clutter) * pattern[..., None] * (texture_colour - 0.5)

    # distractors: other classes' digits of the same split, low contrast, each on its own trajectory
    by_class = pool[np.argsort(targets[pool], kind="stable")]
    counts = np.bincount(targets[pool], minlength=10)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for _ in range(spec.n_distractors):
        other = (labels + rng.integers(1, 10, n)) % 10
        d_source = by_class[starts[other] + (rng.random(n) * counts[other]).astype(np.int64)]
        d_size = np.repeat(rng.uniform(0.6 * spec.digit_min, spec.digit_max, n)[:, None], t_len, 1)
        d_speed, d_angle = rng.uniform(0, spec.speed_max, n), rng.uniform(0, 2 * np.pi, n)
        d_x = _bounce(rng.uniform(0, h - spec.digit_max, n), d_speed * np.cos(d_angle), h - d_size, t)
        d_y = _bounce(rng.uniform(0, h - spec.digit_max, n), d_speed * np.sin(d_angle), h - d_size, t)
        d_ink = _render_digits(np.repeat(images[d_source, 0], t_len, 0), d_x.ravel(), d_y.ravel(), d_size.ravel(), h)
        alpha = np.float32(spec.distractor_contrast) * np.clip(d_ink.reshape(n, t_len, h, h), 0, 1)[..., None]
        frames += alpha * (_colours(rng, n, 0.3, 1.0) - frames)

    # the tagged digit, drawn with hard alpha so that its mask is exact
    shade = _colours(rng, n, 0.2, 1.0) * (0.55 + 0.45 * np.clip(digit, 0, 1))[..., None]
    frames = np.where(ink[..., None], shade, frames)

    # occlusion: a static bar (2–4 px) across the digit's path, never hiding the whole digit
    has_bar = rng.random(n) < spec.occlusion_prob
    when = rng.integers(0, t_len, n)
    vertical = rng.random(n) < 0.5
    centre = np.where(vertical, x[np.arange(n), when], y[np.arange(n), when]) + base / 2
    width = rng.integers(2, 5, n)
    lo = np.floor(centre - width / 2)[:, None]
    coords = np.arange(h)[None, :]
    band = (coords >= lo) & (coords < lo + width[:, None]) & has_bar[:, None]  # (N, H)
    bar = np.where(vertical[:, None, None], band[:, None, :], band[:, :, None])[:, None]  # (N, 1, H, W)
    bar = np.broadcast_to(bar, ink.shape).copy()
    hidden_all = ~(ink & ~bar).any((-2, -1))  # (N, T); for empty videos the bar is dropped too
    bar[hidden_all] = False
    frames = np.where(bar[..., None], _colours(rng, n, 0.4, 0.8), frames)
    masks = ink & ~bar
    occluded = (ink & bar).any((-2, -1))

    frames += np.float32(spec.noise) * rng.standard_normal(frames.shape, dtype=np.float32)
    frames = (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)
    return Videos(frames=frames, masks=masks, boxes=mask_boxes(masks), labels=labels.astype(np.int64),
                  textures=textures.astype(np.int64), occluded=occluded, source=source.astype(np.int64),
                  has_object=has_object)


def frames_to_tensor_layout(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 → (..., 3, H, W) float32 in [0, 1] (the layout of the project's ViT)."""
    return np.moveaxis(frames, -1, -3).astype(np.float32) / 255.0
