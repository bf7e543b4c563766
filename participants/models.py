"""Tenant-schema onboarding records: the organisation profile and checklist, MPID + role
combinations, DIP IDs, nominations of our DCP IDs, DIP API keys, message channels, extended
MDR/SDS set-up and promotion change sets. People are recorded by email (users live in the public
schema; a tenant table never holds a foreign key to them)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from dcpregistry.environments import Environment
from participants.roles import ROLE_CHOICES


class OrganisationProfile(models.Model):
    """Company details as verified in the DIP portal (onboarding step 1). One row."""

    company_name = models.CharField(max_length=200)
    company_number = models.CharField(max_length=10, blank=True, help_text="Companies House")
    registered_address = models.TextField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    domains = models.CharField(
        max_length=500, blank=True, help_text="Verified domains, comma separated"
    )
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.company_name


class ChecklistItem(models.Model):
    """One of the eight DIP onboarding steps (seed 000) in one environment."""

    class Step(models.IntegerChoices):
        COMPANY_VERIFIED = 1, "Company details verified"
        USERS = 2, "Users managed in DIP"
        GLOBALSIGN = 3, "GlobalSign account"
        CERTIFICATES = 4, "DIP certificates"
        DOMAIN = 5, "Domain verification"
        SIGNING_MTLS = 6, "Signing/mTLS certificate"
        DIP_DCP_IDS = 7, "DIP / DCP IDs"
        CHANNELS = 8, "Message channels"

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        BLOCKED = "blocked", "Blocked"
        DONE = "done", "Done"

    environment = models.CharField(max_length=4, choices=Environment.choices)
    step = models.PositiveSmallIntegerField(choices=Step.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    owner = models.CharField(max_length=254, blank=True, help_text="Who does it (email or name)")
    due_date = models.DateField(null=True, blank=True)
    blockers = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["environment", "step"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "step"], name="checklist_step_once")
        ]

    def __str__(self) -> str:
        return f"{self.environment} step {self.step}: {self.get_status_display()}"


class MpidRole(models.Model):
    """An MPID + DIP role combination the client holds (from its MHHS qualification)."""

    mpid = models.CharField(max_length=4)
    role_code = models.CharField(max_length=5, choices=ROLE_CHOICES)
    pre_approved = models.BooleanField(
        default=False, help_text="Pre-loaded from qualification: DIP IDs become active at once"
    )
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["mpid", "role_code"]
        constraints = [models.UniqueConstraint(fields=["mpid", "role_code"], name="mpid_role_once")]

    def __str__(self) -> str:
        return f"{self.mpid}/{self.role_code}"


class DipId(models.Model):
    """A DIP ID (DT-006, 10 chars) for an MPID + role in one environment. Pre-approved
    combinations are active at once; others are requests decided by DCP staff (relaying the DIP
    Manager's decision)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        TRANSFERRED = "transferred", "Transferred out"
        RETIRED = "retired", "Retired"

    mpid_role = models.ForeignKey(MpidRole, on_delete=models.PROTECT, related_name="dip_ids")
    environment = models.CharField(max_length=4, choices=Environment.choices)
    value = models.CharField(max_length=10, blank=True, help_text="Issued by the DIP")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.CharField(max_length=254, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["environment", "mpid_role__mpid", "mpid_role__role_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["mpid_role", "environment"],
                condition=Q(status__in=["requested", "active"]),
                name="dip_id_live_once_per_env",
            ),
            models.UniqueConstraint(
                fields=["environment", "value"],
                condition=~Q(value="") & Q(status__in=["requested", "active"]),
                name="dip_id_value_once_per_env",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value or '(pending)'} {self.mpid_role} {self.environment}"

    @property
    def role_code(self) -> str:
        return self.mpid_role.role_code

    @property
    def mpid(self) -> str:
        return self.mpid_role.mpid


class Nomination(models.Model):
    """The client nominates one of our DCP IDs for one of its DIP IDs (DIP portal: "Nominate
    DIP Connection Provider"). History is kept: revoked rows stay."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    dip_id = models.ForeignKey(DipId, on_delete=models.PROTECT, related_name="nominations")
    dcp_id = models.CharField(max_length=10)
    environment = models.CharField(max_length=4, choices=Environment.choices)
    whitelist_domains = models.BooleanField(
        default=False, help_text="Whitelist the DCP's domains: DCP staff may act as members"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    nominated_by = models.CharField(max_length=254, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked_by = models.CharField(max_length=254, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["dip_id"], condition=Q(status="active"), name="nomination_active_once"
            )
        ]

    def __str__(self) -> str:
        return f"DCP {self.dcp_id} for {self.dip_id.value} ({self.status})"


class ApiKey(models.Model):
    """A DIP API key for a DIP ID in one environment, sealed with dcp.vault. Primary is used
    for sending; secondary is the standby that a rotation swaps in. A swapped-out primary stays
    valid (retiring) until retired, so sending never stops."""

    class Slot(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SECONDARY = "secondary", "Secondary"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRING = "retiring", "Retiring"
        RETIRED = "retired", "Retired"

    dip_id = models.ForeignKey(DipId, on_delete=models.PROTECT, related_name="api_keys")
    environment = models.CharField(max_length=4, choices=Environment.choices)
    slot = models.CharField(max_length=10, choices=Slot.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    sealed = models.TextField()
    fingerprint = models.CharField(max_length=40)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True, help_text="Who generated/rotated")
    last_used_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["dip_id", "slot", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["dip_id", "slot"],
                condition=Q(state__in=["active", "retiring"]),
                name="api_key_slot_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.slot} key {self.fingerprint} ({self.state})"


class Channel(models.Model):
    """Where the DIP delivers one interface's publications (or status messages) for a DIP ID:
    our inbound endpoint at an unguessable per-channel path (routed by dcpregistry.ChannelRoute)."""

    STATUS_MESSAGES = "STATUS"

    dip_id = models.ForeignKey(DipId, on_delete=models.PROTECT, related_name="channels")
    environment = models.CharField(max_length=4, choices=Environment.choices)
    interface_id = models.CharField(max_length=8, help_text="IF-nnn / REP-nnn, or STATUS")
    token = models.CharField(max_length=64, unique=True)
    obfuscated = models.BooleanField(default=False, help_text="Carries obfuscated data")
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dip_id", "interface_id"]
        constraints = [
            models.UniqueConstraint(fields=["dip_id", "interface_id"], name="channel_once")
        ]

    def __str__(self) -> str:
        return f"{self.interface_id} → {self.dip_id.value}"


class SdsMdrPairing(models.Model):
    """Extended MDR/SDS (seed 002): our SDS or MDR DIP ID paired with a partner."""

    dip_id = models.ForeignKey(DipId, on_delete=models.PROTECT, related_name="pairings")
    partner_name = models.CharField(max_length=200)
    partner_mpid = models.CharField(max_length=4)
    partner_dip_id = models.CharField(max_length=10)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["dip_id", "partner_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["dip_id", "partner_dip_id"], name="sds_mdr_pairing_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dip_id.value} ⇄ {self.partner_dip_id}"


class InterfaceSelection(models.Model):
    """Optional (IF-006/008/024/026) or extended (IF-061-065) interface enabled for a DIP ID."""

    dip_id = models.ForeignKey(DipId, on_delete=models.PROTECT, related_name="selections")
    interface_id = models.CharField(max_length=8)
    enabled = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["dip_id", "interface_id"]
        constraints = [
            models.UniqueConstraint(fields=["dip_id", "interface_id"], name="selection_once")
        ]

    def __str__(self) -> str:
        return f"{self.interface_id} {'on' if self.enabled else 'off'} for {self.dip_id.value}"


class CertificationItem(models.Model):
    """Extended MDR/SDS certification evidence (seed 002 §5, §6)."""

    class Kind(models.TextChoices):
        CONSUME = "consume", "Sample messages consumed"
        PRODUCE = "produce", "Sample messages produced"
        PARTNER_EXCHANGE = "partner_exchange", "Exchange with partner"
        EVIDENCE_REUSED = "evidence_reused", "Evidence reused from another client on this platform"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    dip_id = models.ForeignKey(DipId, on_delete=models.PROTECT, related_name="certifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    interface_id = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    evidence = models.TextField(blank=True)
    reused_from = models.CharField(max_length=100, blank=True, help_text="Other client's slug")
    updated = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["dip_id", "kind", "interface_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dip_id", "kind", "interface_id"], name="certification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.interface_id} ({self.status})"


class PromotionChangeSet(models.Model):
    """Promote to production: the diff (UIT → PRD) proposed, reviewed and applied by staff."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    diff = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # Four eyes: one DCP staff member approves, another applies (participants.services.promotion).
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"Promotion #{self.pk} ({self.status})"


class OffboardingRecord(models.Model):
    """What offboarding did, and how long the records are kept."""

    started_at = models.DateTimeField(auto_now_add=True)
    started_by = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    retain_until = models.DateField()
    summary = models.JSONField(default=dict)
    export_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Offboarding {self.started_at:%Y-%m-%d} (keep until {self.retain_until})"
