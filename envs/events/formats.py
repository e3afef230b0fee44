"""Event-sequence files users already have: HYPRO/NHP pickles and EasyTPP JSON rows, validated on load.

* HYPRO / NHP / A-NHP pickles (spec tpp.md §1): ``{'dim_process': K, 'train' | 'dev' | 'test': [seq, ...]}``,
  each sequence a list of ``{'time_since_start', 'time_since_last_event', 'type_event'}`` dicts.
* EasyTPP rows (the ``easytpp/*`` Hugging Face datasets exported to JSON / JSON lines): one row per sequence,
  ``{'dim_process', 'seq_len', 'seq_idx', 'time_since_start': [...], 'time_since_last_event': [...],
  'type_event': [...]}``. A row may carry a ``'split'`` key; otherwise every row goes to the split named by
  the file (``train.json``, ``dev.jsonl``, ``validation.json``, ``test.json``) or to ``'all'``.
* A directory holding ``train``/``dev``/``test`` files of either kind.

Every problem (empty sequence, time going backwards, negative gap, type id out of range, NaN, missing key)
raises ValueError naming the file, split, sequence and event position. Pickles are read with a restricted
unpickler that only rebuilds plain data (dicts, lists, numbers, NumPy arrays), never arbitrary objects.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLIT_ALIASES = {"train": "train", "dev": "dev", "valid": "dev", "validation": "dev", "val": "dev", "test": "test"}
PICKLE_SUFFIXES = (".pkl", ".pickle")
JSON_SUFFIXES = (".json", ".jsonl")


@dataclass(frozen=True)
class EventSequence:
    """One sequence: absolute times since its start (non-decreasing) and 0-based type ids."""

    times: np.ndarray
    types: np.ndarray

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def gaps(self) -> np.ndarray:
        """Inter-arrival times τ_n = t_n − t_{n−1}, with t_0 = 0 (the sequence's start)."""
        return np.diff(self.times, prepend=0.0)


@dataclass
class EventDataset:
    """Sequences by split (``train``/``dev``/``test`` or ``all``) and the number of event types K."""

    n_types: int
    splits: dict[str, list[EventSequence]] = field(default_factory=dict)
    source: str = ""

    def __getitem__(self, split: str) -> list[EventSequence]:
        return self.splits[split]


# --------------------------------------------------------------------------- validation


def validate_sequence(times: Any, types: Any, gaps: Any | None, n_types: int | None, where: str) -> EventSequence:
    """Check one sequence and return it; `where` prefixes every error (``"file: split 'x', sequence i"``)."""
    try:
        t = np.asarray(times, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: time_since_start must be numbers") from None
    k_raw = np.asarray(types).reshape(-1)
    if t.size == 0:
        raise ValueError(f"{where}: empty sequence (no events)")
    if k_raw.size != t.size:
        raise ValueError(f"{where}: {t.size} times but {k_raw.size} types")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"{where}, event {bad[0]}: time_since_start is not finite ({t[bad[0]]})")
    if t[0] < 0:
        raise ValueError(f"{where}, event 0: time_since_start is negative ({t[0]})")
    bad = np.flatnonzero(np.diff(t) < 0)
    if bad.size:
        i = bad[0] + 1
        raise ValueError(f"{where}, event {i}: time_since_start {t[i]} is before the previous event's {t[i - 1]} "
                         "(times must be non-decreasing)")
    if gaps is not None:
        try:
            g = np.asarray(gaps, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: time_since_last_event must be numbers") from None
        if g.size != t.size:
            raise ValueError(f"{where}: {t.size} times but {g.size} time_since_last_event values")
        bad = np.flatnonzero(~(g >= 0))  # catches NaN too
        if bad.size:
            raise ValueError(f"{where}, event {bad[0]}: time_since_last_event is negative or not a number "
                             f"({g[bad[0]]})")
    try:
        k = k_raw.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: type_event must be integers") from None
    bad = np.flatnonzero(~np.isfinite(k) | (k != np.round(k)))
    if bad.size:
        raise ValueError(f"{where}, event {bad[0]}: type_event {k_raw[bad[0]]!r} is not an integer")
    hi = n_types if n_types is not None else np.inf
    bad = np.flatnonzero((k < 0) | (k >= hi))
    if bad.size:
        raise ValueError(f"{where}, event {bad[0]}: type_event {int(k[bad[0]])} outside [0, {n_types}) "
                         f"(dim_process = {n_types})")
    return EventSequence(times=t, types=k.astype(np.int64))


def _check_n_types(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: dim_process must be a positive integer, got {value!r}")
    return int(value)


def _split_name(name: str, where: str) -> str:
    key = SPLIT_ALIASES.get(str(name).lower())
    if key is None:
        raise ValueError(f"{where}: unknown split '{name}' (expected one of {sorted(SPLIT_ALIASES)})")
    return key


# --------------------------------------------------------------------------- HYPRO / NHP pickles


class _PlainDataUnpickler(pickle.Unpickler):
    """Rebuilds builtins and NumPy arrays/scalars only: loading a data file never runs foreign code."""

    ALLOWED = {("collections", "OrderedDict"), ("numpy", "dtype"), ("numpy", "ndarray"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("builtins", "list"), ("builtins", "dict"), ("builtins", "float"), ("builtins", "int")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only plain data is allowed)")


def load_hypro_pickle(path: str | Path) -> EventDataset:
    """Load a HYPRO/NHP pickle ``{'dim_process': K, 'train': [[{...}, ...], ...], 'dev': ..., 'test': ...}``."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = _PlainDataUnpickler(fh, encoding="latin1").load()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as err:
        raise ValueError(f"{path}: not a readable event-sequence pickle ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict with 'dim_process' and split keys, got {type(data).__name__}")
    if "dim_process" not in data:
        raise ValueError(f"{path}: missing key 'dim_process' (the number of event types)")
    n_types = _check_n_types(data["dim_process"], str(path))
    splits: dict[str, list[EventSequence]] = {}
    for name, seqs in data.items():
        if name == "dim_process" or str(name).lower() not in SPLIT_ALIASES:
            continue
        split = _split_name(name, str(path))
        if not isinstance(seqs, (list, tuple)):
            raise ValueError(f"{path}: split '{name}' must be a list of sequences, got {type(seqs).__name__}")
        splits[split] = [_hypro_sequence(seq, n_types, f"{path}: split '{name}', sequence {i}")
                         for i, seq in enumerate(seqs)]
    if not splits:
        raise ValueError(f"{path}: no split found (expected keys among 'train', 'dev', 'test')")
    return EventDataset(n_types=n_types, splits=splits, source=str(path))


def _hypro_sequence(seq: Any, n_types: int, where: str) -> EventSequence:
    if not isinstance(seq, (list, tuple)):
        raise ValueError(f"{where}: expected a list of event dicts, got {type(seq).__name__}")
    if len(seq) == 0:
        raise ValueError(f"{where}: empty sequence (no events)")
    for j, event in enumerate(seq):
        if not isinstance(event, dict):
            raise ValueError(f"{where}, event {j}: expected a dict, got {type(event).__name__}")
        for key in ("time_since_start", "type_event"):
            if key not in event:
                raise ValueError(f"{where}, event {j}: missing key '{key}'")
    gaps = [e["time_since_last_event"] for e in seq] if all("time_since_last_event" in e for e in seq) else None
    return validate_sequence([e["time_since_start"] for e in seq], [e["type_event"] for e in seq], gaps,
                             n_types, where)


def save_hypro_pickle(path: str | Path, dataset: EventDataset) -> Path:
    """Write `dataset` as a HYPRO/NHP pickle (plain floats and ints; readable by the original code)."""
    path = Path(path)
    data: dict[str, Any] = {"dim_process": int(dataset.n_types)}
    for split, seqs in dataset.splits.items():
        data[split] = [[{"time_since_start": float(t), "time_since_last_event": float(g), "type_event": int(k)}
                        for t, g, k in zip(s.times, s.gaps, s.types)] for s in seqs]
    with path.open("wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return path


# --------------------------------------------------------------------------- EasyTPP JSON rows


def load_easytpp_json(path: str | Path, split: str | None = None) -> EventDataset:
    """Load EasyTPP rows from a JSON list or JSON-lines file (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            rows = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if isinstance(rows, dict):  # {"train": [...], "dev": [...]} also accepted
        rows = [{**r, "split": s} for s, rs in rows.items() if isinstance(rs, list) for r in rs]
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path}: expected a non-empty list of sequence rows")
    default = split or SPLIT_ALIASES.get(path.stem.lower(), "all")
    dims = {r.get("dim_process") for r in rows if isinstance(r, dict)} - {None}
    if len(dims) > 1:
        raise ValueError(f"{path}: rows disagree on dim_process ({sorted(dims)})")
    n_types = _check_n_types(dims.pop(), str(path)) if dims else None
    parsed: list[tuple[str, Any, Any, Any, str]] = []
    for i, row in enumerate(rows):
        where = f"{path}: sequence {i}"
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected an object, got {type(row).__name__}")
        for key in ("time_since_start", "type_event"):
            if key not in row:
                raise ValueError(f"{where}: missing key '{key}'")
        name = _split_name(row["split"], where) if "split" in row else default
        where = f"{path}: split '{name}', sequence {row.get('seq_idx', i)}"
        parsed.append((name, row["time_since_start"], row["type_event"], row.get("time_since_last_event"), where))
    if n_types is None:  # infer K from the data when no row says it
        try:
            n_types = 1 + max(int(np.max(np.asarray(k, dtype=float))) for _, _, k, _, _ in parsed if len(k))
        except ValueError:
            raise ValueError(f"{path}: cannot infer the number of types (no events, no dim_process)") from None
    splits: dict[str, list[EventSequence]] = {}
    for name, times, types, gaps, where in parsed:
        splits.setdefault(name, []).append(validate_sequence(times, types, gaps, n_types, where))
    return EventDataset(n_types=n_types, splits=splits, source=str(path))


def save_easytpp_json(path: str | Path, dataset: EventDataset) -> Path:
    """Write `dataset` as EasyTPP JSON-lines rows with a ``split`` key."""
    path = Path(path)
    lines = []
    for split, seqs in dataset.splits.items():
        for i, s in enumerate(seqs):
            lines.append(json.dumps({
                "dim_process": int(dataset.n_types), "seq_len": len(s), "seq_idx": i, "split": split,
                "time_since_start": s.times.tolist(), "time_since_last_event": s.gaps.tolist(),
                "type_event": s.types.tolist()}))
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- dispatch


def load_event_file(path: str | Path) -> EventDataset:
    """Load a HYPRO pickle, an EasyTPP JSON(L) file, or a directory of per-split files of either kind."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.suffix in PICKLE_SUFFIXES + JSON_SUFFIXES and p.stem.lower() in SPLIT_ALIASES)
        if not files:
            raise ValueError(f"{path}: directory has no train/dev/test files (.pkl, .pickle, .json, .jsonl)")
        parts = [load_event_file(p) for p in files]
        if len({p.n_types for p in parts}) > 1:
            raise ValueError(f"{path}: files disagree on the number of types "
                             f"({', '.join(f'{f.name}: {p.n_types}' for f, p in zip(files, parts))})")
        splits: dict[str, list[EventSequence]] = {}
        for f, part in zip(files, parts):
            for name, seqs in part.splits.items():
                name = SPLIT_ALIASES[f.stem.lower()] if name == "all" else name
                splits.setdefault(name, []).extend(seqs)
        return EventDataset(n_types=parts[0].n_types, splits=splits, source=str(path))
    if path.suffix in PICKLE_SUFFIXES:
        return load_hypro_pickle(path)
    if path.suffix in JSON_SUFFIXES:
        return load_easytpp_json(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or directory")
    raise ValueError(f"{path}: unknown format '{path.suffix}' (expected .pkl/.pickle HYPRO pickles, "
                     ".json/.jsonl EasyTPP rows, or a directory of them)")
