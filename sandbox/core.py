"""The running sandbox: settings plus every long-lived part, wired together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from dip.backoff import RetryPolicy
from dip.catalogue import SPEC_VERSIONS, Catalogue, load_catalogue
from dip.pki import load_trust_roots
from dip.signing import Verifier
from sandbox.delivery import DeliveryEngine
from sandbox.faults import Faults
from sandbox.identity import SandboxPki, load_pki
from sandbox.registry import Registry
from sandbox.routing import Router
from sandbox.statuses import StatusHub
from sandbox.store import Store
from sandbox.wording import WORDINGS, reword_body

DEFAULT_DB = Path(".local/sandbox/sandbox.db")


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8800
    registry_path: Path | None = None
    db_path: Path = DEFAULT_DB
    state_dir: Path | None = None  # default: the database's folder
    tls: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    public_url: str | None = None  # base URL clients sign against (default: as received)
    environment: str | None = None  # overrides the registry's
    spec_version: str | None = None  # overrides the registry's
    max_clock_skew: float = 300.0
    retry_attempts: int = 8
    retry_base_delay: float = 0.5
    retry_max_delay: float = 30.0
    retry_max_total_wait: float = 600.0
    per_recipient: int = 16
    callback_timeout: float = 10.0
    callback_messages: int = 100
    status_window: float = 0.1
    replay_page_size: int = 100
    webhook_ca: Path | None = None  # CA bundle to verify https webhooks (default: no verify)
    wording: str = "spec"  # "terse": every free text rewritten, codes kept (sandbox.wording)
    scenarios_dir: Path = field(default_factory=lambda: Path(__file__).parent / "scenarios")

    @property
    def state(self) -> Path:
        return self.state_dir or self.db_path.parent


class Sandbox:
    """All state of one sandbox process. Build with :meth:`create`, then ``await start()``."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        if settings.environment:
            registry.environment = settings.environment
        if settings.spec_version:
            registry.spec_version = settings.spec_version
        if registry.spec_version not in SPEC_VERSIONS:
            raise ValueError(f"spec_version must be one of {SPEC_VERSIONS}")
        self.store = Store(settings.db_path)
        self.pki: SandboxPki = load_pki(settings.state)
        self.faults = Faults()
        self.verifier = self.build_verifier()
        policy = RetryPolicy(
            max_attempts=settings.retry_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            max_total_wait=settings.retry_max_total_wait,
        )
        self.engine = DeliveryEngine(
            registry=registry,
            store=self.store,
            faults=self.faults,
            pki=self.pki,
            policy=policy,
            per_recipient=settings.per_recipient,
            timeout=settings.callback_timeout,
            verify_tls=str(settings.webhook_ca) if settings.webhook_ca else False,
        )
        self.statuses = StatusHub(
            registry=registry, store=self.store, engine=self.engine, window=settings.status_window
        )
        if settings.wording not in WORDINGS:
            raise ValueError(f"wording must be one of {WORDINGS}")
        self.statuses.reword = lambda body: (
            reword_body(body) if self.settings.wording == "terse" else body
        )
        self.engine.on_l3 = self.statuses.l3
        self.engine.simulate = self.statuses.simulate
        self.router = Router(
            registry=registry,
            store=self.store,
            engine=self.engine,
            statuses=self.statuses,
            callback_messages=settings.callback_messages,
        )
        self.surs: set[tuple[str, str]] = self.store.known_surs()
        self.requeues: dict[str, dict[str, Any]] = {}
        from sandbox.scenarios import ScenarioRunner

        self.scenarios = ScenarioRunner(self)

    @classmethod
    def create(cls, settings: Settings) -> Sandbox:
        if settings.registry_path is not None:
            registry = Registry.from_yaml(settings.registry_path)
        else:
            registry = Registry()
        return cls(settings, registry)

    def catalogue(self, edition: str | None = None) -> Catalogue:
        return load_catalogue(edition or self.registry.spec_version)

    def trust_roots(self) -> list[x509.Certificate]:
        roots: list[x509.Certificate] = []
        for item in self.registry.trust_roots:
            if item == "sandbox":
                roots.append(self.pki.ca_certificate)
            else:
                path = Path(item)
                if not path.is_absolute():
                    path = self.registry.base_dir / path
                roots.extend(load_trust_roots(path))
        return roots or [self.pki.ca_certificate]

    def build_verifier(self) -> Verifier:
        return Verifier(
            self.trust_roots(), max_clock_skew=timedelta(seconds=self.settings.max_clock_skew)
        )

    async def start(self) -> None:
        self.store.start()
        # Compiling every variant takes ~15 s; compile the hot channel now, the rest lazily.
        iface = self.catalogue().get("IF-021")
        for variant in iface.variants if iface else ():
            self.catalogue().validator(variant.schema)
        await self.engine.start()
        await self.statuses.start()

    async def stop(self) -> None:
        await self.scenarios.stop_all()
        await self.statuses.stop()
        await self.engine.stop()
        self.store.close()
