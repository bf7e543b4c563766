"""Renewal by time travel, overlap and switch-over while signing, revocation, alerts, fan-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from freezegun import freeze_time

from certificates import selectors, services, tasks
from certificates.models import Alert, Certificate, CertificateAuthority, DomainVerification
from certificates.providers import ProviderError
from certificates.providers.local_ca import LocalCAProvider, local_ca_certificate
from dip.signing import Verifier, sign_request

from .conftest import DIP_ID, issue

URL = "https://dip.example/api/dip-channel/if-021"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
S = Certificate.State


def _real(moment: datetime) -> datetime:
    """A plain datetime (values made under freeze_time are FakeDatetime, which cryptography's
    verifier refuses)."""
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def test_renewal_overlap_and_switch_over_while_signing(in_alpha):
    with freeze_time(T0):
        old = issue()
    renew_at = old.not_after - timedelta(days=25)
    with freeze_time(renew_at):
        report = tasks.scan_tenant()
        assert report["to_renew"] == [old.pk]
        new_pk = tasks.renew_certificate(old.pk)
        assert tasks.scan_tenant()["to_renew"] == []  # successor exists: nothing more to do
    new = Certificate.objects.get(pk=new_pk)
    assert new.state == S.NEXT and new.renewal_of_id == old.pk
    assert new.private_key_id != old.private_key_id  # a fresh key every renewal
    assert new.switch_over_at == renew_at + timedelta(hours=48)
    old.refresh_from_db()
    assert old.state == S.ACTIVE and new.not_before <= renew_at < old.not_after  # overlap

    verifier_roots = [local_ca_certificate("UIT")]
    body = b'[{"payload":{}}]'
    start = new.switch_over_at - timedelta(hours=1)
    used = []
    for step in range(24):  # every 5 minutes across the switch-over, scan flips states midway
        t = _real(start + timedelta(minutes=5 * step))
        if step == 15:
            with freeze_time(t):
                tasks.scan_tenant()
        current = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT", at=t)
        assert current.not_after > t
        headers = sign_request(method="POST", url=URL, body=body, identity=current.identity, now=t)
        verified = Verifier(verifier_roots, clock=lambda t=t: t).verify(
            method="POST", url=URL, body=body, headers=headers
        )
        assert verified.fingerprint_sha256 == current.fingerprint
        used.append((t >= new.switch_over_at, current.certificate_id))
    assert {cid for after, cid in used if not after} == {old.pk}
    assert {cid for after, cid in used if after} == {new.pk}
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == (S.RETIRING, S.ACTIVE) and old.retired_at is not None
    with freeze_time(old.not_after + timedelta(minutes=1)):
        tasks.scan_tenant()
        old.refresh_from_db()
        assert old.state == S.EXPIRED
        current = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT")
        assert current.certificate_id == new.pk


def test_chosen_switch_over_moment(in_alpha):
    old = issue()
    new = issue()
    moment = datetime.now(UTC) + timedelta(hours=3)
    services.schedule_switch_over(certificate_id=new.pk, at=moment, actor=None)
    before = selectors.signing_identity_for(
        dip_id=DIP_ID, environment="UIT", at=moment - timedelta(seconds=1)
    )
    after = selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT", at=moment)
    assert (before.certificate_id, after.certificate_id) == (old.pk, new.pk)
    with pytest.raises(Exception) as exc:
        services.schedule_switch_over(certificate_id=new.pk, at=new.not_after, actor=None)
    assert getattr(exc.value, "code", "") == "switch_over_invalid"


def test_failed_renewal_keeps_the_old_certificate_and_alerts_once(in_alpha, monkeypatch):
    with freeze_time(T0):
        old = issue()

    def down(self, request):
        raise ProviderError("GlobalSign timed out", retryable=True)

    monkeypatch.setattr(LocalCAProvider, "issue", down)
    with freeze_time(old.not_after - timedelta(days=20)):
        for _ in range(2):
            with pytest.raises(Exception):
                tasks.renew_certificate(old.pk)
        old.refresh_from_db()
        assert old.state == S.ACTIVE and "timed out" in old.last_error and old.renewal_attempts == 2
        assert Alert.objects.filter(kind="renewal_failed", certificate=old).count() == 1
        assert (
            selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT").certificate_id
            == old.pk
        )
        assert selectors.health().status in {"warning", "critical"}
        pending = list(Certificate.objects.filter(renewal_of=old, state=S.PENDING))
        assert len(pending) == 1  # retries reuse the same key and request
    monkeypatch.undo()
    with freeze_time(old.not_after - timedelta(days=19)):
        new_pk = tasks.renew_certificate(old.pk)
    assert new_pk == pending[0].pk
    assert Certificate.objects.get(pk=new_pk).state == S.NEXT
    old.refresh_from_db()
    assert old.last_error == ""


def test_revocation_promotes_the_next_certificate(in_alpha):
    first = issue()
    second = issue()
    services.revoke_certificate(certificate_id=first.pk, reason="key_compromise", actor=None)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == S.REVOKED and second.state == S.ACTIVE
    assert first.serial in CertificateAuthority.objects.get(environment="UIT").revoked_serials
    assert (
        selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT").certificate_id == second.pk
    )
    services.revoke_certificate(certificate_id=second.pk, reason="key_compromise", actor=None)
    with pytest.raises(selectors.NoCurrentCertificate):
        selectors.signing_identity_for(dip_id=DIP_ID, environment="UIT")
    alert = Alert.objects.get(kind="revoked", certificate=second)
    assert alert.severity == "critical"


def test_alerts_at_each_threshold_once(in_alpha, settings):
    with freeze_time(T0):
        cert = issue()
    for days_before in range(65, -1, -1):
        for hour in (1, 13):  # two scans a day: still one alert per threshold
            with freeze_time(cert.not_after - timedelta(days=days_before) + timedelta(hours=hour)):
                tasks.scan_tenant()
    got = sorted(
        Alert.objects.filter(kind="expiry", certificate=cert).values_list(
            "threshold_days", flat=True
        )
    )
    assert got == sorted(settings.CERTIFICATES_ALERT_DAYS)


def test_domain_verification_reminders(in_alpha):
    domain = DomainVerification.objects.create(
        environment="PRD",
        domain="alpha.example",
        status="verified",
        expires_at=datetime.now(UTC) + timedelta(days=20),
    )
    tasks.scan_tenant()
    tasks.scan_tenant()
    alerts = Alert.objects.filter(kind="domain_expiry", domain_verification=domain)
    assert list(alerts.values_list("threshold_days", flat=True)) == [30]


def test_dispatch_fans_out_one_scan_per_tenant(in_alpha, monkeypatch, tenant_a, tenant_b):
    connection.set_schema_to_public()
    seen = []

    def fake_delay(*args, **kwargs):
        seen.append(connection.schema_name)
        return tasks.scan_tenant(*args, **kwargs)

    monkeypatch.setattr(tasks.scan_tenant, "delay", fake_delay)
    count = tasks.scan_dispatch()
    assert count == len(seen) and {tenant_a.schema_name, tenant_b.schema_name} <= set(seen)
