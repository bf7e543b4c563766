"""Who is who on the sandbox DIP: participants, DIP IDs, nominations, keys, webhooks, MPANs.

Seeded from a YAML file (``sandbox/registry.demo.yaml`` is the demo) and edited at run time
through the admin API. Everything lives in memory behind plain dicts: lookups happen on every
request, writes are rare (admin calls), and the YAML stays the source of truth for restarts.

YAML shape (see the demo file for a full example)::

    environment: UIT            # S1.environmentTag the sandbox accepts
    spec_version: "2.1.0"       # default edition for unprefixed URLs
    admin_token: change-me
    trust_roots: [path/to/ca.pem, sandbox]   # "sandbox" = the sandbox's own dev CA
    participants:
      - name: Acme Energy
        mpid: ACME
        dip_ids:
          - dip_id: "2309010001"
            role: SUP
            nominated_dcps: ["3009012345"]
            api_keys: {primary: "...", secondary: "..."}
            webhooks: {"*": "https://...", "IF-021": "https://..."}
            status_webhook: https://...
            simulated: false     # true: the sandbox answers for it in-process
            always: false        # true: receives every interface its role receives
    mpans:
      "2100000123459": {gsp: _K, LDSO: "2509012345", SUP: "2309010001", SDS: "1409010001"}
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dip.identifiers import check_dip_id, check_mpan_core

DCP_ROLE = "DCP"
DEFAULT_ADMIN_TOKEN = "sandbox-admin"


class RegistryError(ValueError):
    """A registry entry is invalid (bad DIP ID, unknown reference ...)."""


@dataclass
class DipIdEntry:
    dip_id: str
    role: str
    participant: str  # participant name
    mpid: str | None = None
    nominated_dcps: list[str] = field(default_factory=list)
    api_keys: dict[str, str] = field(default_factory=dict)  # slot ("primary"/"secondary") -> key
    webhooks: dict[str, str] = field(default_factory=dict)  # interface id or "*" -> callback URL
    webhook_limits: dict[str, int] = field(default_factory=dict)  # interface -> maxMessageCount
    status_webhook: str | None = None
    simulated: bool = False
    always: bool = False
    reject_rate: float = 0.0  # simulated only: share of L4 statuses that reject
    status_delay: float = 0.5  # simulated only: seconds before the L4 status is sent

    @property
    def is_dcp(self) -> bool:
        return self.role == DCP_ROLE

    def webhook_for(self, interface_id: str) -> str | None:
        return self.webhooks.get(interface_id) or self.webhooks.get("*")

    def to_dict(self, *, reveal_keys: bool = False) -> dict[str, Any]:
        keys = (
            dict(self.api_keys)
            if reveal_keys
            else {slot: f"...{key[-4:]}" for slot, key in self.api_keys.items()}
        )
        return {
            "dip_id": self.dip_id,
            "role": self.role,
            "participant": self.participant,
            "mpid": self.mpid,
            "nominated_dcps": list(self.nominated_dcps),
            "api_keys": keys,
            "webhooks": dict(self.webhooks),
            "status_webhook": self.status_webhook,
            "simulated": self.simulated,
            "always": self.always,
            "reject_rate": self.reject_rate,
            "status_delay": self.status_delay,
        }


@dataclass
class MpanEntry:
    mpan_core: str
    gsp_group: str | None
    appointments: dict[str, str]  # role -> DIP ID

    def to_dict(self) -> dict[str, Any]:
        return {"gsp": self.gsp_group, **self.appointments}


@dataclass(frozen=True)
class Principal:
    """Who an API key belongs to."""

    dip_id: str
    role: str
    slot: str


class Registry:
    """In-memory registry; thread-safe for the rare writes (reads are lock-free dict gets)."""

    def __init__(
        self,
        *,
        environment: str = "UIT",
        spec_version: str = "2.1.0",
        admin_token: str = DEFAULT_ADMIN_TOKEN,
        trust_roots: list[str] | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.environment = environment
        self.spec_version = spec_version
        self.admin_token = admin_token
        self.trust_roots = list(trust_roots or ["sandbox"])
        self.base_dir = base_dir or Path.cwd()
        self.dip_ids: dict[str, DipIdEntry] = {}
        self.participants: dict[str, dict[str, Any]] = {}  # name -> {"mpid": ...}
        self.mpans: dict[str, MpanEntry] = {}
        self._keys: dict[str, Principal] = {}
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: Path) -> Registry:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls.from_dict(data, base_dir=path.resolve().parent)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, base_dir: Path | None = None) -> Registry:
        reg = cls(
            environment=str(data.get("environment", "UIT")),
            spec_version=str(data.get("spec_version", "2.1.0")),
            admin_token=str(data.get("admin_token", DEFAULT_ADMIN_TOKEN)),
            trust_roots=[str(t) for t in data.get("trust_roots", ["sandbox"])],
            base_dir=base_dir,
        )
        for p in data.get("participants", []):
            reg.upsert_participant(p)
        for mpan, appointed in (data.get("mpans") or {}).items():
            reg.upsert_mpan(str(mpan), dict(appointed or {}))
        return reg

    def upsert_participant(self, p: dict[str, Any]) -> list[DipIdEntry]:
        name = str(p["name"])
        mpid = p.get("mpid")
        entries = []
        for d in p.get("dip_ids", []):
            entries.append(self.upsert_dip_id({**d, "participant": name, "mpid": mpid}))
        with self._lock:
            self.participants[name] = {"name": name, "mpid": mpid}
        return entries

    def upsert_dip_id(self, d: dict[str, Any]) -> DipIdEntry:
        dip_id = str(d["dip_id"])
        if check_dip_id(dip_id) is not None:
            raise RegistryError(f"{dip_id!r} is not a 10-character DIP ID")
        old = self.dip_ids.get(dip_id)
        entry = DipIdEntry(
            dip_id=dip_id,
            role=str(d.get("role") or (old.role if old else "SUP")),
            participant=str(d.get("participant") or (old.participant if old else dip_id)),
            mpid=d.get("mpid", old.mpid if old else None),
            nominated_dcps=[
                str(x) for x in d.get("nominated_dcps", old.nominated_dcps if old else [])
            ],
            api_keys={
                str(k): str(v)
                for k, v in (d.get("api_keys") or (old.api_keys if old else {})).items()
            },
            webhooks={
                str(k): str(v)
                for k, v in (d.get("webhooks") or (old.webhooks if old else {})).items()
            },
            status_webhook=d.get("status_webhook", old.status_webhook if old else None),
            simulated=bool(d.get("simulated", old.simulated if old else False)),
            always=bool(d.get("always", old.always if old else False)),
            reject_rate=float(d.get("reject_rate", old.reject_rate if old else 0.0)),
            status_delay=float(d.get("status_delay", old.status_delay if old else 0.5)),
        )
        with self._lock:
            self.dip_ids[dip_id] = entry
            self._rebuild_keys()
        return entry

    def remove_dip_id(self, dip_id: str) -> bool:
        with self._lock:
            gone = self.dip_ids.pop(dip_id, None) is not None
            self._rebuild_keys()
        return gone

    def upsert_mpan(self, mpan: str, appointed: dict[str, Any]) -> MpanEntry:
        if check_mpan_core(mpan) is not None:
            raise RegistryError(f"{mpan!r} is not a valid MPAN core")
        gsp = appointed.pop("gsp", None)
        entry = MpanEntry(mpan, gsp, {str(k): str(v) for k, v in appointed.items()})
        with self._lock:
            self.mpans[mpan] = entry
        return entry

    def _rebuild_keys(self) -> None:
        self._keys = {
            key: Principal(e.dip_id, e.role, slot)
            for e in self.dip_ids.values()
            for slot, key in e.api_keys.items()
        }

    # -- lookups -------------------------------------------------------------------------------

    def principal_for_key(self, api_key: str | None) -> Principal | None:
        return self._keys.get(api_key) if api_key else None

    def get(self, dip_id: str | None) -> DipIdEntry | None:
        return self.dip_ids.get(dip_id) if dip_id else None

    def is_known(self, dip_id: str) -> bool:
        return dip_id in self.dip_ids

    def is_nominated(self, sender_dip_id: str, dcp_dip_id: str) -> bool:
        entry = self.dip_ids.get(sender_dip_id)
        return entry is not None and dcp_dip_id in entry.nominated_dcps

    def represented_by(self, dcp_dip_id: str) -> list[DipIdEntry]:
        return [e for e in self.dip_ids.values() if dcp_dip_id in e.nominated_dcps]

    def may_act_for(self, principal: Principal, dip_id: str) -> bool:
        """A principal may configure/replay for its own DIP ID or one that nominated it."""
        return principal.dip_id == dip_id or self.is_nominated(dip_id, principal.dip_id)

    def always_recipients(self, roles: tuple[str, ...]) -> list[str]:
        return [e.dip_id for e in self.dip_ids.values() if e.always and e.role in roles]

    def mpid_of(self, dip_id: str) -> str | None:
        entry = self.dip_ids.get(dip_id)
        return entry.mpid if entry else None

    def to_dict(self, *, reveal_keys: bool = False) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "spec_version": self.spec_version,
            "trust_roots": list(self.trust_roots),
            "participants": list(self.participants.values()),
            "dip_ids": [e.to_dict(reveal_keys=reveal_keys) for e in self.dip_ids.values()],
            "mpans": {m: e.to_dict() for m, e in self.mpans.items()},
        }
