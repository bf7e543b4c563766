"""Typed CommonBlock model (PROTOCOL.md §1.2-§1.9). Field names are the spec's own spelling.

``CommonBlock.from_dict`` builds the model from a schema-valid CommonBlock dict (it checks
presence and shape, not value formats - that is the schema's job) and raises
:class:`~dip.errors.ValidationFailure` on anything it cannot model. ``to_dict`` emits blocks
and fields in spec order, omitting absent optional blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Final, Self

from dip.errors import Finding, Level, Severity, ValidationFailure

BLOCK_ORDER: Final = ("S0", "S1", "S2", "A0", "D0", "M0", "M1", "R0", "R1")


class _Block:
    __slots__ = ()
    LIST_FIELDS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, data: object, *, path: str = "$") -> Self:
        if not isinstance(data, Mapping):
            raise _failure(path, f"{cls.__name__} must be an object")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                raise _failure(f"{path}.{f.name}", f"{cls.__name__}.{f.name} is missing")
            value = data[f.name]
            if f.name in cls.LIST_FIELDS:
                if not isinstance(value, list):
                    raise _failure(f"{path}.{f.name}", f"{cls.__name__}.{f.name} must be an array")
                value = tuple(value)
            kwargs[f.name] = value
        extra = set(data) - set(kwargs)
        if extra:
            raise _failure(path, f"{cls.__name__} has unknown keys {sorted(extra)}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if f.name in self.LIST_FIELDS else value
        return out

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]


def _failure(path: str, message: str) -> ValidationFailure:
    return ValidationFailure([Finding("MSG1001", Severity.ERROR, path, message, Level.SCHEMA)])


@dataclass(frozen=True, slots=True)
class S0(_Block):
    interfaceID: str
    schemaVersion: str
    eventCode: str


@dataclass(frozen=True, slots=True)
class S1(_Block):
    environmentTag: str
    subText: str | None
    senderUniqueReference: str
    senderTimestamp: str
    senderDIPID: str
    senderRoleID: str
    senderCorrelationID: str | None
    DIPConnectionProviderID: str | None


@dataclass(frozen=True, slots=True)
class S2(S1):
    """Second sender block, same structure as S1 (IF-016 only)."""


@dataclass(frozen=True, slots=True)
class A0(_Block):
    LIST_FIELDS: ClassVar[tuple[str, ...]] = ("primaryRecipients", "secondaryRecipients", "always")
    primaryRecipients: tuple[str | None, ...]
    secondaryRecipients: tuple[str | None, ...]
    always: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class D0(_Block):
    transactionID: str
    transactionTimestamp: str
    publicationID: str
    initialCorrelationID: str | None
    replayIndicator: bool
    serviceTicketURL: str | None


@dataclass(frozen=True, slots=True)
class M0(_Block):
    MPANCore: str
    distributorDIPID: str
    GSPGroupID: str


@dataclass(frozen=True, slots=True)
class M1(_Block):
    principalMPAN: str
    distributorDIPID: str
    GSPGroupID: str


@dataclass(frozen=True, slots=True)
class R0(_Block):
    LIST_FIELDS: ClassVar[tuple[str, ...]] = ("responseMessages",)
    responseCode: str
    responseMessages: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class R1(R0):
    """Second response block, same structure as R0 (IF-016 only)."""


BLOCK_TYPES: Final[dict[str, type[_Block]]] = {
    "S0": S0,
    "S1": S1,
    "S2": S2,
    "A0": A0,
    "D0": D0,
    "M0": M0,
    "M1": M1,
    "R0": R0,
    "R1": R1,
}
FIELD_ORDER: Final[dict[str, tuple[str, ...]]] = {
    k: v.field_names() for k, v in BLOCK_TYPES.items()
}


@dataclass(frozen=True, slots=True)
class CommonBlock:
    S0: S0
    S1: S1
    S2: S2 | None = None
    A0: A0 | None = None
    D0: D0 | None = None
    M0: M0 | None = None
    M1: M1 | None = None
    R0: R0 | None = None
    R1: R1 | None = None

    @classmethod
    def from_dict(cls, data: object, *, path: str = "$") -> CommonBlock:
        if not isinstance(data, Mapping):
            raise _failure(path, "CommonBlock must be an object")
        extra = set(data) - set(BLOCK_ORDER)
        if extra:
            raise _failure(path, f"CommonBlock has unknown blocks {sorted(extra)}")
        for required in ("S0", "S1"):
            if required not in data:
                raise _failure(f"{path}.{required}", f"CommonBlock.{required} is missing")
        blocks: dict[str, Any] = {
            name: BLOCK_TYPES[name].from_dict(data[name], path=f"{path}.{name}")
            for name in BLOCK_ORDER
            if name in data
        }
        return cls(**blocks)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in BLOCK_ORDER:
            block = getattr(self, name)
            if block is not None:
                out[name] = block.to_dict()
        return out
