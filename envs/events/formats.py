"""Event-sequence files users already have: HYPRO/NHP pickles and EasyTPP JSON rows, validated on load.

* HYPRO / NHP / A-NHP pickles (spec tpp.md §1): ``{'dim_process': K, 'train' | 'dev' | 'test': [seq, ...]}``,
  each sequence a list of ``{'time_since_start', 'time_since_last_event', 'type_event'}`` dicts.
* EasyTPP rows (the ``easytpp/*`` Hugging Face datasets exported to JSON / JSON lines): one row per sequence,
  ``{'dim_process', 'seq_len', 'seq_idx', 'time_since_start': [...], 'time_since_last_event': [...],
  'type_event': [...]}``. A row may carry a ``'split'`` key; otherwise every row goes to the split named by
  the file (``train.json``, ``dev.jsonl``, ``validation.json``, ``test.json``) or to ``'all'``.
* A directory holding ``train``/``dev``/``test`` files of either kind.

Every problem (empty sequence, time going backwards, negative gap, type id out of range, NaN, missing key)
raises ValueError naming the file, split, sequence and event position. Pickles (plain or gzipped, ``.pkl.gz``)
are read with a restricted unpickler that only rebuilds plain data (dicts, lists, numbers, NumPy arrays), never
arbitrary objects; a file over ``max_bytes`` (decompressed), an array larger than its file could carry, or an
allowed callable fed junk (``dict(5)``, ``dtype('junk')``) is a one-line ValueError naming the file.

Inter-arrival times. A file's ``time_since_last_event`` τ_n is used as given, like the peers (CDiff's
``dataset_boxcox.py`` and EasyTPP's ``data_loader.py`` read it without any check). We check it against the
times: τ_n may not exceed t_n − t_{n−1} (τ_0 may not exceed t_0) by more than ``GAP_ATOL + GAP_RTOL·Δt``
(numpy.isclose's rule; float round-off on Taobao's ~1.5e5 times is below 1e-10). A *smaller* τ_n is
accepted as the peers accept it: on the CDiff authors' Taobao split ~6 % of the events have a file gap below
the time difference (:func:`gap_disagreement` counts them). Without ``time_since_last_event`` the gaps are
``diff(times)`` with τ_0 = 0: a file's ``time_since_start`` need not start at the observation start (Taobao's
first event is at ≈ 1.5e5), so no gap ever carries an absolute time.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SPLIT_ALIASES = {"train": "train", "dev": "dev", "valid": "dev", "validation": "dev", "val": "dev", "test": "test"}
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pkl.gz", ".pickle.gz")
JSON_SUFFIXES = (".json", ".jsonl")
GAP_RTOL, GAP_ATOL = 1e-5, 1e-6  # a file gap may exceed the time difference by at most GAP_ATOL + GAP_RTOL·Δt
MAX_BYTES = 1 << 30  # default cap on a pickle's (decompressed) size
# Data shipped with the project: the CDiff authors' Taobao split (networkslab/cdiff data/taobao, gzipped;
# 1300 / 200 / 500 sequences of 32–64 events, K = 17).
BUNDLED = {"taobao": Path(__file__).resolve().parent / "data" / "taobao"}


def bundled_path(name: str) -> Path:
    """The directory of a data set shipped inside the project (``taobao``)."""
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled data set '{name}'; choose one of: {', '.join(BUNDLED)}")
    return BUNDLED[name]


def _suffix(path: Path) -> str:
    """The format suffix, ``.pkl.gz`` counted as one (``train.pkl.gz`` → ``.pkl.gz``)."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    return suffixes if suffixes in (".pkl.gz", ".pickle.gz") else path.suffix.lower()


def _stem(path: Path) -> str:
    """The split-naming stem (``train.pkl.gz`` → ``train``)."""
    return path.name[: -len(_suffix(path))] if _suffix(path) else path.stem


@dataclass(frozen=True)
class EventSequence:
    """One sequence: event times (non-decreasing), 0-based type ids and optionally its own gaps `dt`.

    `dt` holds a file's ``time_since_last_event`` (or the loader's diff(times) with τ_0 = 0); without it
    the times are taken as measured from the sequence's start at 0 (e.g. simulated Hawkes paths).
    """

    times: np.ndarray
    types: np.ndarray
    dt: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def gaps(self) -> np.ndarray:
        """Inter-arrival times τ_n: `dt` when given, else t_n − t_{n−1} with t_{−1} = 0 (the start)."""
        return self.dt if self.dt is not None else np.diff(self.times, prepend=0.0)


def gap_disagreement(sequences: list[EventSequence]) -> tuple[int, int]:
    """(events whose gap differs from diff(times) beyond the tolerance, events) over `sequences` (τ_0 skipped)."""
    bad = total = 0
    for s in sequences:
        step = np.diff(s.times)
        bad += int((np.abs(s.gaps[1:] - step) > GAP_ATOL + GAP_RTOL * step).sum())
        total += len(s)
    return bad, total


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
        bad = np.flatnonzero(~(g >= 0) | ~np.isfinite(g))  # catches NaN too
        if bad.size:
            raise ValueError(f"{where}, event {bad[0]}: time_since_last_event is negative or not finite "
                             f"({g[bad[0]]})")
        step = np.diff(t, prepend=0.0)  # τ_0 is bounded by the time since start t_0
        bad = np.flatnonzero(g > step + GAP_ATOL + GAP_RTOL * step)
        if bad.size:
            i = bad[0]
            raise ValueError(f"{where}, event {i}: time_since_last_event {g[i]} exceeds the time since the "
                             f"previous event ({step[i]}, from time_since_start)")
    else:  # no file gaps: the first event's gap is unknown, take 0 (never the absolute time_since_start)
        g = np.diff(t, prepend=t[0])
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
    return EventSequence(times=t, types=k.astype(np.int64), dt=g)


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
    """Rebuilds builtins and NumPy arrays/scalars only: loading a data file never runs foreign code.

    The NumPy constructors are wrapped so that no array may hold more bytes than ``max_array_bytes`` (an
    honest pickle carries every array's data, so its file is at least that large); anything the allowed
    callables reject (``dict(5)``, ``dtype('junk')``) surfaces as an exception that the loader reports.
    """

    ALLOWED = {("collections", "OrderedDict"), ("numpy", "dtype"), ("numpy", "ndarray"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
               ("builtins", "list"), ("builtins", "dict"), ("builtins", "float"), ("builtins", "int")}

    def __init__(self, fh: Any, max_array_bytes: int):
        super().__init__(fh, encoding="latin1")
        self.max_array_bytes = int(max_array_bytes)

    def _check_shape(self, shape: Any, dtype: Any) -> None:
        dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if any(not isinstance(d, (int, np.integer)) or d < 0 for d in dims):
            raise ValueError(f"array shape {shape!r} is not a tuple of non-negative integers")
        size = int(np.prod([int(d) for d in dims], dtype=object)) * np.dtype(dtype).itemsize
        if size > self.max_array_bytes:
            raise ValueError(f"an array of shape {tuple(int(d) for d in dims)} ({size} bytes) exceeds the "
                             f"{self.max_array_bytes}-byte cap")

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only plain data is allowed)")
        target = super().find_class(module, name)
        if name == "ndarray":
            def ndarray(shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:
                self._check_shape(shape, dtype)
                return np.ndarray(shape, dtype, *args, **kwargs)
            ndarray.is_plain_ndarray = True
            return ndarray
        if name == "_frombuffer":
            def frombuffer(buf: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
                if not isinstance(buf, (bytes, bytearray)):
                    raise pickle.UnpicklingError("array data must be bytes")
                self._check_shape(shape, dtype)
                return target(buf, dtype, shape, order)
            return frombuffer
        if name == "_reconstruct":
            def reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
                if subtype is not np.ndarray and not getattr(subtype, "is_plain_ndarray", False):
                    raise pickle.UnpicklingError("only plain numpy.ndarray may be rebuilt")
                self._check_shape(shape, "b")
                return _GuardedArray(target(np.ndarray, shape, dtype), self)
            return reconstruct
        return target


class _GuardedArray:
    """Stands in for an array until its state arrives; checks the declared shape before NumPy allocates it."""

    def __init__(self, array: np.ndarray, owner: _PlainDataUnpickler):
        self.array, self.owner = array, owner

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise ValueError("malformed array state")
        shape, dtype = state[-4], state[-3]
        self.owner._check_shape(shape, dtype)
        self.array.__setstate__(state)


def _unwrap(obj: Any) -> Any:
    """Replace the :class:`_GuardedArray` stand-ins by their arrays (recursively through dicts and lists)."""
    if isinstance(obj, _GuardedArray):
        return obj.array
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(v) for v in obj)
    return obj


def read_plain_pickle(path: str | Path, max_bytes: int = MAX_BYTES) -> Any:
    """Unpickle plain data from `path` (gzipped if it ends in ``.gz``), at most `max_bytes` decompressed.

    Every failure is one line ``ValueError("<path>: ...")``.
    """
    path = Path(path)
    if not (isinstance(max_bytes, (int, np.integer)) and max_bytes > 0):
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    try:
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: cannot read ({_one_line(err)})") from None
    if len(raw) > max_bytes:
        raise ValueError(f"{path}: larger than the {max_bytes}-byte cap (max_bytes)")
    try:
        return _unwrap(_PlainDataUnpickler(io.BytesIO(raw), max_array_bytes=8 * len(raw) + 4096).load())
    except RecursionError:
        raise ValueError(f"{path}: not a readable event-sequence pickle (nested too deeply)") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, KeyError, TypeError,
            ValueError, OverflowError, MemoryError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable event-sequence pickle ({_one_line(err)})") from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def load_hypro_pickle(path: str | Path, max_bytes: int = MAX_BYTES) -> EventDataset:
    """Load a HYPRO/NHP pickle ``{'dim_process': K, 'train': [[{...}, ...], ...], 'dev': ..., 'test': ...}``."""
    path = Path(path)
    data = read_plain_pickle(path, max_bytes)
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
    with (gzip.open if path.suffix.lower() == ".gz" else open)(path, "wb") as fh:
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
    default = split or SPLIT_ALIASES.get(_stem(path).lower(), "all")
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
                       if _suffix(p) in PICKLE_SUFFIXES + JSON_SUFFIXES and _stem(p).lower() in SPLIT_ALIASES)
        if not files:
            raise ValueError(f"{path}: directory has no train/dev/test files (.pkl, .pkl.gz, .pickle, .json, "
                             ".jsonl)")
        parts = [load_event_file(p) for p in files]
        if len({p.n_types for p in parts}) > 1:
            raise ValueError(f"{path}: files disagree on the number of types "
                             f"({', '.join(f'{f.name}: {p.n_types}' for f, p in zip(files, parts))})")
        splits: dict[str, list[EventSequence]] = {}
        for f, part in zip(files, parts):
            for name, seqs in part.splits.items():
                name = SPLIT_ALIASES[_stem(f).lower()] if name == "all" else name
                splits.setdefault(name, []).extend(seqs)
        return EventDataset(n_types=parts[0].n_types, splits=splits, source=str(path))
    if _suffix(path) in PICKLE_SUFFIXES:
        return load_hypro_pickle(path)
    if _suffix(path) in JSON_SUFFIXES:
        return load_easytpp_json(path)
    if not path.exists():
        raise ValueError(f"{path}: no such file or directory")
    raise ValueError(f"{path}: unknown format '{path.suffix}' (expected .pkl/.pkl.gz/.pickle HYPRO pickles, "
                     ".json/.jsonl EasyTPP rows, or a directory of them)")
