"""Browser test infrastructure: a real server process on the pytest-django test database, one
headless Debian chromium per session, a fresh browser context per test.

Data the server must see is committed (``committed()``), not written in the per-test
transaction, and every address is unique to the session. The audit table refuses UPDATE,
DELETE and TRUNCATE, so ``transactional_db``/``live_server`` (which flush tables) are never
used; instead the session removes the people it created when it ends."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SERVER_LOG = ROOT / ".local" / "log" / "browser-server.log"  # the server's output, for failures
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
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)


def unique_email(label: str) -> str:
    return f"{label}-{RUN_ID}-{uuid.uuid4().hex[:6]}@{EMAIL_DOMAIN}"


@pytest.fixture(scope="session")
def committed(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """``with committed(): ...`` runs ORM code outside any test transaction, so the server
    process sees it at once. Playwright's sync API keeps an event loop in this thread, hence
    the async-safety override, scoped to the block."""

    @contextlib.contextmanager
    def block() -> Iterator[None]:
        before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        try:
            with django_db_blocker.unblock():
                yield
        finally:
            if before is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before

    yield block
    with block():
        from tenants.models import Invitation, User

        Invitation.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
        User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()


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


@pytest.fixture(scope="session")
def server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LiveServer]:
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
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    with SERVER_LOG.open("wb") as log:
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
                    raise RuntimeError(f"server did not start; see {SERVER_LOG}")
                time.sleep(0.2)
            yield LiveServer(port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def browser(server: LiveServer) -> Iterator[Any]:
    # Depends on the server so the test database is set up before Playwright's event loop
    # starts in this thread (Django refuses ORM calls while one runs).
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


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


@pytest.fixture(scope="session")
def make_person(committed: Any) -> Any:
    """``make_person(label, tenant_slug=..., role=..., staff_role=..., mfa=...)`` commits a user
    (and membership) with a unique email and returns its credentials."""
    from tests.factories import PASSWORD, MembershipFactory, UserFactory

    def make(
        label: str,
        *,
        tenant_slug: str | None = None,
        role: str = "",
        staff_role: str = "",
        mfa: bool = False,
        full_name: str = "",
    ) -> Person:
        with committed():
            from tenants.models import Tenant

            kwargs: dict[str, Any] = {
                "email": unique_email(label),
                "staff_role": staff_role,
                "mfa": mfa,
            }
            if full_name:
                kwargs["full_name"] = full_name
            user = UserFactory(**kwargs)
            if tenant_slug:
                MembershipFactory(user=user, tenant=Tenant.objects.get(slug=tenant_slug), role=role)
        return Person(user.email, PASSWORD, getattr(user, "totp_secret", None))

    return make


def totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return str(format_hotp_value(hotp_value(secret, int(time.time()) // 30)))


def sign_in(page: Any, server: LiveServer, person: Person, tenant: str | None = None) -> None:
    page.goto(server.url("/accounts/login/", tenant))
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
