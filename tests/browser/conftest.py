"""Browser test infrastructure: a real server process (gunicorn) on the pytest-django test
database, one headless Debian chromium for the package, a fresh browser context per test.

Data the server must see is committed through ``committed()`` (its own connection, outside
the test's transaction) with addresses unique to the run. The audit table refuses UPDATE,
DELETE and TRUNCATE, so ``transactional_db``/``live_server`` (which flush tables) are never
used; the people the tests created are deleted when the package ends."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connections

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
# Screenshots go to test-artifacts/ (ignored by git) unless UPDATE_SCREENSHOTS=1 asks to
# refresh the committed ones in docs/screenshots/ (`make screenshots`).
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else ROOT / "test-artifacts" / "screenshots"
)


def server_log() -> Path:
    """The test server's output, for failures: one file per run and xdist worker."""
    run = os.environ.get("DCP_TEST_RUN_ID", "0")
    return (
        ROOT
        / ".local"
        / "log"
        / f"browser-server-{run}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    )


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
RUN_ID = uuid.uuid4().hex[:8]
EMAIL_DOMAIN = "browser.example"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a browser test and needs the test database: without a ``django_db``
    marker in the session pytest-django creates no test database at all, and everything would
    run against the development database."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            if not item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.browser)
            if not item.get_closest_marker("django_db"):
                item.add_marker(pytest.mark.django_db)


def unique_email(label: str) -> str:
    return f"{label}-{RUN_ID}-{uuid.uuid4().hex[:6]}@{EMAIL_DOMAIN}"


def committed(work: Callable[[], T]) -> T:
    """Run ORM code on a connection of its own, outside the test's transaction, so it is
    committed at once and the server process sees it. A worker thread gives both: Django
    connections are per thread, and Playwright's event loop lives in this one."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture(scope="package", autouse=True)
def _remove_people(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The audit table refuses DELETE, so tables are never flushed; the people and invitations
    the browser tests committed are removed when the package ends."""
    yield

    def remove() -> None:
        from tenants.models import Invitation, User

        Invitation.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
        User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()

    with django_db_blocker.unblock():
        committed(remove)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/healthz", headers={"Host": settings.BASE_DOMAIN})
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@dataclass(frozen=True)
class LiveServer:
    port: int

    def url(self, path: str = "/", tenant: str | None = None) -> str:
        host = f"{tenant}.{settings.BASE_DOMAIN}" if tenant else settings.BASE_DOMAIN
        return f"http://{host}:{self.port}{path}"


@pytest.fixture(scope="package")
def server(django_db_setup: Any) -> Iterator[LiveServer]:
    """gunicorn serving dcp.settings.test against the test database (created and seeded with
    the session tenants by django_db_setup before this starts)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dcp.settings.test",
        "DATABASE_URL": _database_url(),
        "DCP_PUBLIC_PORT": str(port),
        "DB_CONN_MAX_AGE": "0",
    }
    log_path = server_log()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "dcp.wsgi:application",
                *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8"),
                *("--timeout", "60", "--access-logfile", "-"),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not _healthy(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log_path}")
                time.sleep(0.2)
            yield LiveServer(port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="package")
def browser(server: LiveServer) -> Iterator[Any]:
    """One chromium for all browser tests. Package scope, not session: Playwright's sync API
    leaves an event loop marked as running in this thread, and Django refuses ORM calls while
    one runs, so it must be gone before other packages' tests start. For the same reason the
    per-test transaction of these tests needs DJANGO_ALLOW_ASYNC_UNSAFE while it lives."""
    if not Path(CHROMIUM).exists():
        # `make test` installs it; a missing browser must fail the run, never skip it.
        pytest.fail(f"{CHROMIUM} is not installed: run `make test` or `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # Django's connections are asgiref-local, i.e. per event-loop context while a loop runs:
    # close them on both sides of Playwright's lifetime or one is orphaned and the test
    # database cannot be dropped at the end of the session.
    connections.close_all()
    try:
        with sync_playwright() as pw:
            instance = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                yield instance
            finally:
                instance.close()
                connections.close_all()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """``new_page()`` opens a page in a fresh context (its own cookies); closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    totp_secret: str | None = None
    # The role's MFA policy gave them TOTP (client admins, auditors): sign_in gives the code.
    auto_mfa: bool = False


@pytest.fixture
def make_person(browser: Any) -> Callable[..., Person]:
    """``make_person(label, tenant_slug=..., role=..., staff_role=..., mfa=...)`` commits a user
    (and membership) with a unique email and returns its credentials."""
    from tests.factories import PASSWORD, MembershipFactory, UserFactory

    def make(
        label: str,
        *,
        tenant_slug: str | None = None,
        role: str = "",
        staff_role: str = "",
        mfa: bool | None = None,
        full_name: str = "",
    ) -> Person:
        from tenants.roles import MFA_REQUIRED_CLIENT_ROLES

        auto_mfa = mfa is None and role in MFA_REQUIRED_CLIENT_ROLES

        def create() -> Person:
            from tenants.models import Tenant

            kwargs: dict[str, Any] = {"email": unique_email(label), "staff_role": staff_role}
            if full_name:
                kwargs["full_name"] = full_name
            user = UserFactory(mfa=bool(mfa) or auto_mfa, **kwargs)
            if tenant_slug:
                MembershipFactory(user=user, tenant=Tenant.objects.get(slug=tenant_slug), role=role)
            return Person(user.email, PASSWORD, getattr(user, "totp_secret", None), auto_mfa)

        return committed(create)

    return make


def totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return str(format_hotp_value(hotp_value(secret, int(time.time()) // 30)))


def sign_in(page: Any, server: LiveServer, person: Person, tenant: str | None = None) -> None:
    page.goto(server.url("/accounts/login/", tenant))
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    if person.auto_mfa and person.totp_secret:
        page.get_by_label("Code").fill(totp_code(person.totp_secret))
        page.get_by_role("button", name="Verify and sign in").click()
