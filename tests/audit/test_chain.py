"""The audit chain: append-only at the database, and any edit, deletion, insertion or
reordering made behind the application's back is detected by verify_audit_chain."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django_tenants.utils import tenant_context

from audit.models import AuditEvent
from audit.selectors import verify_chain
from audit.services import compute_hash, record, row_fields
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _events(n: int, tenant) -> list[AuditEvent]:
    user = UserFactory()
    with tenant_context(tenant):
        return [
            record(
                action=f"test.event.{i}",
                actor=user,
                summary=f"event {i}",
                changes={"i": i, "nested": {"b": 2, "a": [1, "x"]}},
            )
            for i in range(n)
        ]


def _raw(sql: str, params=()) -> None:
    """Change rows as an attacker with table-owner rights would: triggers disabled."""
    with connection.cursor() as cur:
        cur.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cur.execute(sql, params)
        cur.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def _fails(tenant) -> list[str]:
    with pytest.raises(CommandError) as err:
        call_command("verify_audit_chain", tenant=tenant.slug, stdout=_Sink())
    assert "failed" in str(err.value)
    with tenant_context(tenant):
        return verify_chain(tenant.schema_name).problems


class _Sink:
    def write(self, *_):
        pass

    def flush(self):
        pass


def test_chain_links_and_verifies(tenant_a):
    events = _events(5, tenant_a)
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash and after.seq == before.seq + 1
    with tenant_context(tenant_a):
        assert verify_chain(tenant_a.schema_name).ok
        stored = AuditEvent.objects.get(pk=events[2].pk)
        assert compute_hash(row_fields(stored)) == stored.hash
    call_command("verify_audit_chain", tenant=tenant_a.slug, stdout=_Sink())


def test_update_and_delete_are_refused_by_the_database(tenant_a):
    event = _events(1, tenant_a)[0]
    with tenant_context(tenant_a):
        for sql in (
            "UPDATE audit_auditevent SET summary = 'x' WHERE id = %s",
            "DELETE FROM audit_auditevent WHERE id = %s",
        ):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cur,
            ):
                cur.execute(sql, [event.pk])
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute("TRUNCATE audit_auditevent")


def test_edited_row_is_detected(tenant_a):
    events = _events(4, tenant_a)
    with tenant_context(tenant_a):
        _raw("UPDATE audit_auditevent SET summary = 'forged' WHERE id = %s", [events[1].pk])
    problems = _fails(tenant_a)
    assert any(f"seq {events[1].seq}" in p and "edited" in p for p in problems)


def test_edited_json_changes_are_detected(tenant_a):
    events = _events(3, tenant_a)
    with tenant_context(tenant_a):
        _raw("""UPDATE audit_auditevent SET changes = '{"i": 99}' WHERE id = %s""", [events[0].pk])
    assert _fails(tenant_a)


def test_deleted_middle_row_is_detected(tenant_a):
    events = _events(4, tenant_a)
    with tenant_context(tenant_a):
        _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    problems = _fails(tenant_a)
    assert any("missing" in p for p in problems)


def test_deleted_last_row_is_detected(tenant_a):
    events = _events(3, tenant_a)
    with tenant_context(tenant_a):
        _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    assert any("head" in p for p in _fails(tenant_a))


def test_reordered_rows_are_detected(tenant_a):
    events = _events(3, tenant_a)
    a, b = events[0], events[1]
    with tenant_context(tenant_a):
        _raw("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [a.pk])
        _raw("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
        _raw("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    assert _fails(tenant_a)


def test_rehashed_forgery_breaks_the_link_to_the_next_row(tenant_a):
    """An attacker who edits a row and recomputes its hash still breaks the next link."""
    events = _events(3, tenant_a)
    with tenant_context(tenant_a):
        forged = AuditEvent.objects.get(pk=events[1].pk)
        forged.summary = "forged"
        new_hash = compute_hash(row_fields(forged))
        _raw(
            "UPDATE audit_auditevent SET summary = 'forged', hash = %s WHERE id = %s",
            [new_hash, forged.pk],
        )
    problems = _fails(tenant_a)
    assert any(f"seq {events[2].seq}: prev_hash" in p for p in problems)


def test_public_chain_is_separate_and_verified(tenant_a):
    user = UserFactory()
    record(action="platform.test", actor=user)  # current schema: public
    with tenant_context(tenant_a):
        assert not AuditEvent.objects.filter(action="platform.test").exists()
    call_command("verify_audit_chain", public=True, stdout=_Sink())


def test_record_rolls_back_with_the_change_it_describes(tenant_a):
    with tenant_context(tenant_a):
        before = AuditEvent.objects.count()

        def doomed_change() -> None:
            with transaction.atomic():
                record(action="doomed")
                raise RuntimeError

        with pytest.raises(RuntimeError):
            doomed_change()
        assert AuditEvent.objects.count() == before
        assert verify_chain(tenant_a.schema_name).ok


def test_verify_command_rejects_unknown_tenant():
    with pytest.raises(CommandError, match="no tenant"):
        call_command("verify_audit_chain", tenant="nope", stdout=_Sink())
