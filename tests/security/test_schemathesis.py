"""Schemathesis over the OpenAPI schema of both kinds of host (issue 17, "never 5xx on bad
input"): every operation of the client API (as a tenant's client_admin) and of the platform API
(as DCP staff) is called in-process through Django's WSGI handler with generated input, and
each answer must be no server error, a documented status code, the documented content type and
a body that matches the documented schema — for single calls with valid and invalid input, and
for stateful sequences that follow the schema's links (create, then act on what was created).

Bounded and reproducible: Hypothesis is derandomized (fixed seed), a few examples per
operation, no example database; the whole module stays well under a minute on two cores."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import werkzeug
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import DatabaseError, close_old_connections, transaction
from django.utils.crypto import get_random_string
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dcpregistry import services as registry
from participants.services import dip_ids
from tenants.roles import ClientRole
from tests.conftest import HostClient, host_of
from tests.factories import member, staff

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 4
STATEFUL_SCENARIOS, STATEFUL_STEPS = 10, 6
# Valid input (the documented answers hold) and invalid input (refused with a 4xx, never a 5xx).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

# Left out of fuzzing, each with its reason (each is covered by its own tests):
EXCLUDED = {
    # Creates a client tenant: a new PostgreSQL schema and its migrations per example
    # (seconds each); tests/tenants cover its validation.
    "POST /api/v1/tenants/",
}


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's real WSGI handler, in this thread, inside the test's transaction: like
    django.test.Client, keep the request signals from closing the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class SignedIn:
    """A browser-like client for a user on a host: a werkzeug client (schemathesis' WSGI
    transport) holding the session cookie and a CSRF cookie for that host, plus the matching
    X-CSRFToken header (DRF enforces CSRF on unsafe methods for sessions)."""

    def __init__(self, app: WSGIHandler, user: Any, host: str) -> None:
        client = HostClient(host)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        csrf = get_random_string(32)
        self.base_url = f"http://{host}"
        self.headers = {"X-CSRFToken": csrf}
        self.session = werkzeug.Client(app)
        for name, value in (
            (settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value),
            (settings.CSRF_COOKIE_NAME, csrf),
        ):
            self.session.set_cookie(name, value, domain=host)


def _load(app: WSGIHandler, host: str) -> Any:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, headers={"Host": host})
    return schema


def _takes_input(operation: Any) -> bool:
    return any(len(group) for group in (operation.path_parameters, operation.query, operation.body))


def _fuzz(schema: Any, auth: SignedIn) -> tuple[Counter[int], list[str]]:
    """Run every operation; return the status codes seen and the failures."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    timings: dict[str, float] = {}
    settings_ = hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    operations = [r.ok() for r in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, MODES):
        if operation.label in EXCLUDED or (
            mode == GenerationMode.NEGATIVE and not _takes_input(operation)
        ):
            continue

        @settings_
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            # Each request in its own savepoint, as each runs in its own transaction when
            # served (autocommit): one refused statement must not poison the next example.
            with transaction.atomic():
                response = case.call(
                    base_url=auth.base_url, session=auth.session, headers=auth.headers
                )
                transaction.set_rollback(True)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=auth.headers)

        started = time.monotonic()
        try:
            call()
        except Unsatisfiable:
            pass  # nothing in this operation's input can be made invalid (e.g. a free-text slug)
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label} ({mode.value}): {str(exc)[:600]}")
        timings[f"{operation.label} ({mode.value})"] = time.monotonic() - started
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:5]
    print(f"\n{len(timings)} runs in {sum(timings.values()):.1f} s; slowest:")
    print(", ".join(f"{k} {v:.1f}s" for k, v in slowest))
    return statuses, failures


def _stateful(schema: Any, auth: SignedIn, statuses: Counter[int]) -> list[str]:
    """Sequences of calls that follow the schema's links (create → read/act on what was
    created, dcp.api.schema.add_create_links), writes kept from step to step."""
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": auth.base_url, "session": auth.session, "headers": auth.headers}

        def call(self, case: Any, **kwargs: Any) -> Any:
            # Keep what the step wrote, unless the database refused a statement in it.
            savepoint = transaction.savepoint()
            response = case.call(**kwargs)
            try:
                transaction.savepoint_commit(savepoint)
            except DatabaseError:
                transaction.savepoint_rollback(savepoint)
            statuses[response.status_code] += 1
            return response

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, headers=auth.headers)

    try:
        Machine.run(
            settings=hypothesis_settings(
                max_examples=STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
        )
    except (Exception, BaseExceptionGroup) as exc:
        return [f"stateful: {str(exc)[:1500]}"]
    return []


def _seed_tenant(tenant: Any, admin: Any) -> None:
    """Something in the lists, so response bodies with rows are checked too."""
    with tenant_context(tenant):
        combo = dip_ids.add_mpid_role(mpid="ALFA", role_code="SUP", actor=admin)
        dip_ids.create_dip_id(mpid_role=combo, environment="UIT", actor=admin)


def _seed_platform(dcp_admin: Any) -> None:
    registry.request_dcp_status(environment="UIT", actor=dcp_admin)
    registry.decide_dcp_status(environment="UIT", approve=True, actor=dcp_admin)
    registry.create_dcp_ids(environment="UIT", count=2, actor=dcp_admin)


def _assert_clean(statuses: Counter[int], failures: list[str]) -> None:
    print(f"status codes: {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n".join(failures)
    # Signed in for real: most answers are successes, not 403s.
    ok = sum(n for code, n in statuses.items() if code < 300)
    assert ok > statuses[403], statuses


def test_tenant_api_schema_holds(tenant_a: Any, wsgi_app: WSGIHandler) -> None:
    admin = member(tenant_a, ClientRole.CLIENT_ADMIN)
    _seed_tenant(tenant_a, admin)
    host = host_of(tenant_a)
    schema = _load(wsgi_app, host)
    assert "/api/v1/nominations/" in schema.raw_schema["paths"]
    assert "/api/v1/tenants/" not in schema.raw_schema["paths"]
    auth = SignedIn(wsgi_app, admin, host)
    statuses, failures = _fuzz(schema, auth)
    failures += _stateful(schema, auth, statuses)
    _assert_clean(statuses, failures)


def test_platform_api_schema_holds(public_tenant: Any, wsgi_app: WSGIHandler) -> None:
    dcp_admin = staff()
    _seed_platform(dcp_admin)
    host = host_of(None)
    schema = _load(wsgi_app, host)
    paths = schema.raw_schema["paths"]
    # The platform host documents the platform API, not the client API.
    for platform_path in ("/api/v1/tenants/", "/api/v1/dcp-ids/", "/api/v1/transfers/"):
        assert platform_path in paths
    assert "/api/v1/onboarding/" in paths and "/api/v1/nominations/" not in paths
    auth = SignedIn(wsgi_app, dcp_admin, host)
    statuses, failures = _fuzz(schema, auth)
    failures += _stateful(schema, auth, statuses)
    _assert_clean(statuses, failures)
