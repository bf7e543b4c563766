"""Reads for evidence packs: which messages a pack (or a set of parameters) covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from evidence.models import EvidencePack
from messaging.models import Message


@dataclass(frozen=True)
class Scope:
    period_start: date
    period_end: date  # inclusive
    interfaces: tuple[str, ...] = ()
    dip_ids: tuple[str, ...] = ()
    mpans: tuple[str, ...] = ()

    @classmethod
    def of(cls, pack: EvidencePack) -> Scope:
        return cls(
            pack.period_start,
            pack.period_end,
            tuple(pack.interfaces),
            tuple(pack.dip_ids),
            tuple(pack.mpans),
        )

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.period_start, time.min))

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return timezone.make_aware(datetime.combine(self.period_end + timedelta(days=1), time.min))

    def message_q(self, prefix: str = "") -> Q:
        q = Q(**{f"{prefix}created__gte": self.start, f"{prefix}created__lt": self.end})
        if self.interfaces:
            q &= Q(**{f"{prefix}interface_id__in": self.interfaces})
        if self.dip_ids:
            q &= Q(**{f"{prefix}dip_id__in": self.dip_ids})
        if self.mpans:
            q &= Q(**{f"{prefix}mpan_core__in": self.mpans})
        return q

    def as_dict(self) -> dict[str, object]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "interfaces": list(self.interfaces),
            "dip_ids": list(self.dip_ids),
            "mpans": list(self.mpans),
        }


def scope_messages(scope: Scope) -> QuerySet[Message]:
    return Message.objects.filter(scope.message_q())
