"""Settings dataclasses and plain dicts: one built from a (YAML) mapping with unknown keys
refused and YAML strings coerced, checks of numbers and integer lists that name the key, dotted
flattening."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def from_dict(cls: type[T], data: Mapping[str, Any], section: str) -> T:
    """``cls(**data)`` for a settings dataclass, refusing keys that are not fields.

    Strings are converted to the field's type where it is ``int`` or ``float`` (PyYAML reads
    ``1e-3`` as a string), ints to ``float`` for float fields. A field whose type is itself a
    settings dataclass is built the same way from a mapping (``None``: its defaults), so
    :func:`dataclasses.asdict` output round-trips. Errors name ``section`` (the YAML section,
    e.g. ``"yoda"``; ``"model.rrdb"`` for a nested one).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"unknown setting(s) in section {section!r}: {unknown} (known: {sorted(names)})"
        )
    hints = typing.get_type_hints(cls)
    values = dict(data)
    for key, value in data.items():
        kind = hints.get(key)
        if (
            isinstance(kind, type)
            and dataclasses.is_dataclass(kind)
            and (value is None or isinstance(value, Mapping))
        ):
            values[key] = from_dict(kind, value or {}, f"{section}.{key}")
        elif kind in (int, float) and isinstance(value, str):
            try:
                values[key] = kind(value)
            except ValueError:
                message = f"{section}.{key}: expected {kind.__name__}, got {value!r}"
                raise ValueError(message) from None
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif kind is str and isinstance(value, bool):
            raise ValueError(
                f"{section}.{key}: expected a string, got {value!r} (YAML reads no/yes/on/off "
                f'unquoted as booleans: quote the word, e.g. "no")'
            )
    return cls(**values)


def check_int(settings: Any, section: str, key: str, minimum: int) -> None:
    """ValueError naming ``section.key`` unless that field is an int >= ``minimum``."""
    value = getattr(settings, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{section}.{key} must be an integer >= {minimum}, got {value!r}")


def check_int_tuple(
    settings: Any,
    section: str,
    key: str,
    minimum: int,
    maximum: int | None = None,
    *,
    allow_empty: bool = False,
) -> None:
    """Make field ``key`` a tuple, or raise ValueError naming ``section.key`` unless it is a
    list or tuple of ints in ``minimum``..``maximum`` (non-empty unless ``allow_empty``)."""
    value = getattr(settings, key)
    if (
        isinstance(value, (list, tuple))
        and (value or allow_empty)
        and all(
            isinstance(v, int)
            and not isinstance(v, bool)
            and v >= minimum
            and (maximum is None or v <= maximum)
            for v in value
        )
    ):
        setattr(settings, key, tuple(value))
        return
    kind = "a list" if allow_empty else "a non-empty list"
    bounds = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
    raise ValueError(f"{section}.{key} must be {kind} of integers {bounds}, got {value!r}")


def check_float(
    settings: Any,
    section: str,
    key: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    positive: bool = False,
) -> None:
    """ValueError naming ``section.key`` unless that field is a finite number (an int or a
    float), > 0 when ``positive``, within ``minimum``..``maximum`` where given."""
    value = getattr(settings, key)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if (
        number
        and math.isfinite(value)
        and (not positive or value > 0)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    ):
        return
    wanted = "a positive finite number" if positive else "a finite number"
    if minimum is not None and maximum is not None:
        wanted += f" in [{minimum}, {maximum}]"
    elif minimum is not None:
        wanted += f" >= {minimum}"
    elif maximum is not None:
        wanted += f" <= {maximum}"
    raise ValueError(f"{section}.{key} must be {wanted}, got {value!r}")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> ``{"a.b": value}`` (other values, lists included, kept as they are)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
