"""Declared ranges for config fields, checked generically before a run directory exists.

A numeric or choice field declares its range once, next to its default::

    @dataclass
    class TrainConfig:
        lr: float = param(0.02, gt=0, le=10)
        epochs: int = param(20, ge=1, le=100_000)
        schedule: str = param("cosine", choices=("constant", "cosine", "multistep"))
        milestones: list[int] = param([50, 100], ge=0, le=100_000)   # checked element-wise
        weights: list[float] = param([0.5, 0.5], ge=0, le=1, nonempty=True)

:func:`check_config` walks a resolved config (nested dataclasses) and raises ``ValueError`` with one line
naming the dotted key, the value and the rule. Rules that hold for every field, declared or not:
a float is finite (NaN and ±inf never pass; ``allow_inf=True`` opts out of the inf half only).
A scenario's ``validate()`` keeps only cross-field rules.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHECK_KEY = "recast.check"


@dataclass(frozen=True)
class Check:
    """The declared range of one field (element-wise for list fields)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    nonempty: bool = False
    allow_inf: bool = False
    allow_none: bool = False

    @property
    def lower(self) -> float | None:
        return self.ge if self.ge is not None else self.gt

    @property
    def upper(self) -> float | None:
        return self.le if self.le is not None else self.lt

    def describe(self) -> str:
        parts = []
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)):
            if bound is not None:
                parts.append(f"{op} {bound:g}")
        return " and ".join(parts) or "any"

    def problem(self, value: Any) -> str | None:
        """None when `value` obeys the rule, else a short reason."""
        if value is None:
            return None if self.allow_none else "must be set"
        if isinstance(value, (list, tuple)):
            if self.nonempty and len(value) == 0:
                return "must not be empty"
            for i, item in enumerate(value):
                reason = self.problem(item)
                if reason is not None:
                    return f"element {i} ({item!r}) {reason}"
            return None
        if self.choices is not None and value not in self.choices:
            return f"must be one of: {', '.join(map(str, self.choices))}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        reason = _finite_problem(value, self.allow_inf)
        if reason:
            return reason
        if self.ge is not None and not value >= self.ge:
            return f"must be >= {self.ge:g}"
        if self.gt is not None and not value > self.gt:
            return f"must be > {self.gt:g}"
        if self.le is not None and not value <= self.le:
            return f"must be <= {self.le:g}"
        if self.lt is not None and not value < self.lt:
            return f"must be < {self.lt:g}"
        return None


_UNDECLARED = Check(allow_none=True)  # fields without a declared range: still never NaN or ±inf


def param(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: Sequence[Any] | None = None,
    nonempty: bool = False,
    allow_inf: bool = False,
    allow_none: bool = False,
) -> Any:
    """A dataclass field with a declared range (a list default becomes a default_factory)."""
    if isinstance(default, (list, dict)):
        value, default = default, dataclasses.MISSING
        default_factory = lambda: copy.deepcopy(value)  # noqa: E731  (a fresh copy per instance)
    check = Check(ge=ge, gt=gt, le=le, lt=lt, choices=tuple(choices) if choices is not None else None,
                  nonempty=nonempty, allow_inf=allow_inf, allow_none=allow_none)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={CHECK_KEY: check})


def field_check(f: dataclasses.Field) -> Check | None:
    return f.metadata.get(CHECK_KEY)


def check_config(cfg: Any, prefix: str = "") -> None:
    """Raise ValueError naming the first field of `cfg` (a dataclass tree) that breaks its declared range."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = prefix + f.name
        if dataclasses.is_dataclass(value):
            check_config(value, key + ".")
            continue
        check = field_check(f)
        reason = (check or _UNDECLARED).problem(value)
        if reason is not None:
            shown = value if not isinstance(value, float) else f"{value:g}"
            raise ValueError(f"{key}={shown}: {reason}")


def _finite_problem(value: float, allow_inf: bool) -> str | None:
    if isinstance(value, float) and math.isnan(value):
        return "must be a number, not NaN"
    if isinstance(value, float) and math.isinf(value) and not allow_inf:
        return "must be finite"
    return None


def leaf_fields(config_type: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """(dotted key, field, resolved type) for every leaf field of a config dataclass type (errors, tests)."""
    try:  # f.type is a string under `from __future__ import annotations`
        hints = typing.get_type_hints(config_type)
    except (NameError, TypeError):
        hints = {}
    out = []
    for f in dataclasses.fields(config_type):
        ftype = hints.get(f.name, f.type)
        if isinstance(ftype, type) and dataclasses.is_dataclass(ftype):
            out += leaf_fields(ftype, f"{prefix}{f.name}.")
        else:
            out.append((prefix + f.name, f, ftype))
    return out
