from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from audit.services import record
from messaging import services as msg
from messaging.outbound.models import StatusReport
from messaging.states import Direction, State

DAY = date(2026, 3, 2)


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def new_message(*, created: datetime, direction: str = Direction.OUTBOUND, **kw: Any) -> Any:
    body = (
        kw.pop("body", None)
        or f'{{"payload": {{"n": "{kw.get("mpan_core", "")}{created.isoformat()}{kw.get("sender_unique_reference", "")}{kw.get("transaction_id", "")}"}}}}'.encode()
    )
    raw = msg.store_raw(body)
    defaults: dict[str, Any] = dict(
        direction=direction,
        environment="UIT",
        interface_id="IF-021",
        dip_id="2309010001",
        raw=raw,
        mpan_core="1200023305967",
    )
    defaults.update(kw)
    m = msg.create_messages([msg.NewMessage(**defaults)], actor="test")[0]
    type(m).objects.filter(pk=m.pk).update(created=created)
    m.created = created
    return m


def walk(m: Any, *states: str) -> None:
    for state in states:
        assert msg.transition(m, state, actor="test", reason=f"to {state}")


@pytest.fixture
def evidence_media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path


@pytest.fixture
def seeded(tenant_a: Any) -> Any:
    """Outbound settled/accepted/rejected, inbound validated, one non-UTF-8 raw body, audit rows."""
    from django_tenants.utils import tenant_context

    with tenant_context(tenant_a):
        made = []
        for i in range(6):
            m = new_message(
                created=at(DAY + timedelta(days=i % 3), 9 + i),
                sender_unique_reference=f"SUR-EV-{i}",
                interface_id="IF-021" if i % 2 else "IF-019",
            )
            walk(m, State.VALIDATED, State.QUEUED, State.SENT, State.ACCEPTED)
            if i % 3 == 0:
                walk(m, State.SETTLED)
            made.append(m)
            StatusReport.objects.create(
                message=m, code="ACK", success=True, received_at=at(DAY), body={"ok": True}
            )
        inbound = new_message(
            created=at(DAY, 15),
            direction=Direction.INBOUND,
            interface_id="IF-036",
            transaction_id="TX-EV-1",
            body=b"\xff\xfe not utf-8 \x00",
        )
        walk(inbound, State.VALIDATED)
        made.append(inbound)
        for i in range(4):
            record(action="test.evidence", target=made[i], summary=f"op {i}")
        yield made
