"""Dev/demo only: a little traffic for a tenant, so the Messages pages show something.

Outbound: ``--outbound N`` valid messages as the tenant's DIP ID through the outbound service
(``messaging.outbound.services.submit.submit``, the path the client API takes), then the Celery
worker signs and sends them to the DIP (the sandbox). Inbound: the sandbox's scenario engine
(admin API) has a simulated counterparty send ``--inbound N`` messages to the DIP ID, which the
sandbox delivers to the tenant's channel webhook. Needs the demo certificate and trust
(``load_demo``, ``sync_trust_to_sandbox``) and registered channels (``sync_channels_to_dip``).

``--top-up`` only sends what is missing for the DIP ID to have N messages each way, so
``make run`` can call it every time without piling messages up."""

from __future__ import annotations

import logging
import os
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import tenant_context

from dip.catalogue import load_catalogue
from dip.samples import make_message, make_mpan_core
from messaging.models import Message
from messaging.outbound.services.submit import SubmissionRefused, submit
from messaging.states import Direction, State
from participants.models import DipId
from tenants.models import Tenant

DEFAULT_TENANT = "acme"
DEFAULT_OUTBOUND_INTERFACE = "IF-025"  # SUP → REGS (the sandbox's always-on registration)
DEFAULT_INBOUND_INTERFACE = "IF-002"  # REGS → SUP (Acme has a channel for it)
DEFAULT_COUNTERPARTY = "2209010001"  # the sandbox's simulated Registration Service
PRINCIPAL = "demo_traffic"
GOOD_OUTBOUND = frozenset({State.ACCEPTED, State.SETTLED})
# Waiting stops once the DIP has answered (accepted or refused); L4 statuses settle them later.
ANSWERED_OUTBOUND = GOOD_OUTBOUND | {State.REJECTED, State.FAILED, State.EXPIRED}
DONE_INBOUND = frozenset({State.VALIDATED, State.REJECTED, State.DELIVERED})


@dataclass
class Plan:
    dip_id: str
    role: str
    environment: str
    outbound: int
    inbound: int
    outbound_ids: list[str] = field(default_factory=list)
    since: Any = None


def outbound_items(*, interface_id: str, dip_id: str, role: str, n: int) -> list[dict[str, Any]]:
    """``n`` valid messages from ``dip_id``, each for its own MPAN, sent a moment ago."""
    rng = random.Random(secrets.randbits(64))
    now = timezone.now() - timedelta(seconds=1)
    mpans: set[str] = set()
    while len(mpans) < n:
        mpans.add(make_mpan_core(rng))
    return [
        make_message(
            interface_id,
            sender_dip_id=dip_id,
            sender_role=role,
            dcp_dip_id=None,  # the outbound service fills in the nominated DCP ID
            mpan_core=mpan,
            rng=rng,
            when=now,
        )
        for mpan in sorted(mpans)
    ]


def scenario_messages(
    *,
    base_url: str,
    admin_token: str,
    interface_id: str,
    sender: str,
    recipient: str,
    n: int,
    timeout: float = 30.0,
) -> int:
    """Have the sandbox's scenario engine send exactly ``n`` messages from the simulated
    ``sender`` to ``recipient``: one tick's worth per run (rate = n per tick, a run shorter than
    a tick), repeated for any shortfall. Returns how many it sent."""
    from sandbox.scenarios import TICK

    headers = {"X-Admin-Token": admin_token}
    base = base_url.rstrip("/")
    sent, deadline = 0, time.monotonic() + timeout
    with httpx.Client(timeout=10) as http:
        while sent < n and time.monotonic() < deadline:
            overrides = {
                "interface": interface_id,
                "event_code": None,  # the interface's first event code
                "from": [sender],
                "to": [recipient],
                "shape": "steady",
                "rate": (n - sent) / TICK + 0.01,
                "duration": TICK / 2,
                "duplicates": 0,
                "malformed_rate": 0,
                "bad_signature_rate": 0,
                "out_of_order": 0,
                "seed": secrets.randbits(32),
            }
            started = http.post(
                f"{base}/admin/scenarios/steady/start", headers=headers, json=overrides
            )
            if started.status_code != 201:
                raise CommandError(
                    f"scenario start: HTTP {started.status_code} {started.text[:300]}"
                )
            run_id = started.json()["id"]
            while time.monotonic() < deadline:
                runs = http.get(f"{base}/admin/scenarios", headers=headers).json()["runs"]
                run = next(r for r in runs if r["id"] == run_id)
                if run["state"] != "running":
                    sent += int(run["sent"])
                    break
                time.sleep(0.1)
    return sent


class Command(BaseCommand):
    help = (
        "Dev/demo only: submit outbound messages as a demo tenant and have the DIP sandbox "
        "deliver inbound ones to it, so the Messages pages show traffic."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--outbound", type=int, default=5, help="outbound messages (5)")
        parser.add_argument("--inbound", type=int, default=5, help="inbound messages (5)")
        parser.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant slug (acme)")
        parser.add_argument("--dip-id", help="the tenant's DIP ID (default: its first nominated)")
        parser.add_argument("--environment", default="UIT")
        parser.add_argument("--interface", default=DEFAULT_OUTBOUND_INTERFACE, help="outbound")
        parser.add_argument(
            "--inbound-interface", default=DEFAULT_INBOUND_INTERFACE, help="inbound"
        )
        parser.add_argument(
            "--counterparty",
            default=DEFAULT_COUNTERPARTY,
            help="simulated sender of the inbound messages (a sandbox registry DIP ID)",
        )
        parser.add_argument(
            "--sandbox-admin-token",
            default=os.environ.get("SANDBOX_ADMIN_TOKEN", "sandbox-admin"),
        )
        parser.add_argument("--url", default="", help="sandbox base URL (DCP_DIP_UIT_URL)")
        parser.add_argument(
            "--top-up",
            action="store_true",
            help="send only what is missing for N messages each way (idempotent)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=30.0,
            help="seconds to wait for the messages to be accepted / validated (0: do not wait)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per call otherwise
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant {options['tenant']!r} (run `manage.py load_demo`)")
        url = options["url"] or settings.DIP_API_URLS.get(options["environment"], "")
        with tenant_context(tenant):
            plan = self._plan(options)
            self._outbound(plan, options)
        if plan.inbound:
            try:
                sent = scenario_messages(
                    base_url=url,
                    admin_token=options["sandbox_admin_token"],
                    interface_id=options["inbound_interface"],
                    sender=options["counterparty"],
                    recipient=plan.dip_id,
                    n=plan.inbound,
                )
            except httpx.HTTPError as exc:
                raise CommandError(f"DIP sandbox at {url}: {exc}") from exc
            self.stdout.write(
                f"inbound : the sandbox sent {sent} {options['inbound_interface']} message(s) "
                f"from {options['counterparty']} to {plan.dip_id}"
            )
        if options["wait"] > 0 and (plan.outbound or plan.inbound):
            with tenant_context(tenant):
                self._wait(plan, options["wait"])

    def _plan(self, options: dict[str, Any]) -> Plan:
        env = options["environment"]
        dips = DipId.objects.select_related("mpid_role").filter(environment=env)
        if options["dip_id"]:
            dip = dips.filter(value=options["dip_id"]).first()
        else:
            dip = dips.filter(nominations__status="active").order_by("value").distinct().first()
        if dip is None:
            raise CommandError(f"no nominated {env} DIP ID in this tenant")
        role = dip.mpid_role.role_code
        iface = load_catalogue().get(options["interface"])
        if iface is None or role not in iface.sender_roles:
            raise CommandError(f"{role} may not send {options['interface']}")
        outbound, inbound = max(options["outbound"], 0), max(options["inbound"], 0)
        if options["top_up"]:
            mine = Message.objects.filter(dip_id=dip.value, environment=env)
            outbound = max(outbound - mine.filter(direction=Direction.OUTBOUND).count(), 0)
            inbound = max(inbound - mine.filter(direction=Direction.INBOUND).count(), 0)
            if not outbound and not inbound:
                self.stdout.write(f"{dip.value} already has its demo traffic (--top-up)")
        return Plan(dip.value, role, env, outbound, inbound, since=timezone.now())

    def _outbound(self, plan: Plan, options: dict[str, Any]) -> None:
        if not plan.outbound:
            return
        items = outbound_items(
            interface_id=options["interface"], dip_id=plan.dip_id, role=plan.role, n=plan.outbound
        )
        try:
            result = submit(
                dip_id=plan.dip_id,
                interface_id=options["interface"],
                environment=plan.environment,
                items=items,
                principal=PRINCIPAL,
            )
        except SubmissionRefused as exc:
            raise CommandError(
                f"outbound refused: {exc.status} {exc.code} {exc.message} {exc.details}"
            ) from exc
        plan.outbound_ids = [str(m["id"]) for m in result.body["messages"]]
        self.stdout.write(
            f"outbound: submission {result.submission.pk}, {len(plan.outbound_ids)} "
            f"{options['interface']} message(s) as {plan.dip_id} queued for the DIP"
        )

    def _wait(self, plan: Plan, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            out = Counter(
                Message.objects.filter(public_id__in=plan.outbound_ids).values_list(
                    "state", flat=True
                )
            )
            inbound = Counter(
                Message.objects.filter(
                    direction=Direction.INBOUND, dip_id=plan.dip_id, created__gte=plan.since
                ).values_list("state", flat=True)
            )
            out_answered = sum(out[s] for s in ANSWERED_OUTBOUND) >= len(plan.outbound_ids)
            in_done = sum(inbound[s] for s in DONE_INBOUND) >= plan.inbound
            if (out_answered and in_done) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if plan.outbound_ids:
            self.stdout.write(f"outbound states: {dict(out)}")
        if plan.inbound:
            self.stdout.write(f"inbound states : {dict(inbound) or '-'}")
        out_good = sum(out[s] for s in GOOD_OUTBOUND) >= len(plan.outbound_ids)
        if not (out_good and in_done):
            self.stdout.write(
                self.style.WARNING(
                    "not everything got through in time: is the Celery worker running "
                    "(.local/log/worker.log)? Open the messages on the Messages page."
                )
            )
