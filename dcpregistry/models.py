"""Public-schema records owned by the DCP organisation (the platform), shared by all tenants:
DCP status per environment, DCP IDs, which client DIP ID each DCP ID is assigned to, the
inbound channel route table and cross-tenant transfers (trade sale / supplier of last resort).

They live here, not in ``participants`` (a tenant app), because each must hold across tenants:
a DCP ID is assigned to exactly one client DIP ID platform-wide (a database constraint says
so), and the inbound webhook resolves a tenant from the URL before any schema is selected."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from dcpregistry.environments import Environment
from tenants.models import Tenant


class DcpStatus(models.Model):
    """Our organisation's DCP status in one DIP environment (requested → active)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"

    environment = models.CharField(max_length=4, choices=Environment.choices, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.CharField(max_length=254, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["environment"]
        verbose_name_plural = "DCP statuses"

    def __str__(self) -> str:
        return f"DCP status {self.environment}: {self.status}"


class DcpId(models.Model):
    """A DCP ID we created in the DIP portal, to be shared with one client for one DIP ID."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    value = models.CharField(max_length=10, unique=True)
    environment = models.CharField(max_length=4, choices=Environment.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    batch = models.CharField(max_length=40, blank=True, help_text="Bulk-creation label")
    note = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["environment", "value"]
        indexes = [models.Index(fields=["environment", "status"])]

    def __str__(self) -> str:
        return f"DCP ID {self.value} ({self.environment})"


class DcpIdAssignment(models.Model):
    """DCP ID → (tenant, DIP ID) through a nomination. At most one active row per DCP ID."""

    dcp_id = models.ForeignKey(DcpId, on_delete=models.PROTECT, related_name="assignments")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    dip_id = models.CharField(max_length=10)
    environment = models.CharField(max_length=4, choices=Environment.choices)
    nomination_id = models.BigIntegerField()
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["dcp_id"], condition=Q(active=True), name="dcp_id_assigned_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dcp_id.value} → {self.dip_id} @ {self.tenant.slug}"


class ChannelRoute(models.Model):
    """Inbound route: the unguessable token in a channel's webhook path → tenant + channel."""

    token = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    channel_id = models.BigIntegerField()
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel_id"], name="channel_route_once")
        ]

    def __str__(self) -> str:
        return f"route → {self.tenant.slug}#{self.channel_id}"


class Transfer(models.Model):
    """Trade sale / supplier of last resort: DIP IDs (with channels, nominations and in-flight
    work) moving from one tenant to another at a dated cut-over."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        TRADE_SALE = "trade_sale", "Trade sale"
        SOLR = "solr", "Supplier of last resort"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRADE_SALE)
    source = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    dip_ids = models.JSONField(default=list, help_text="DIP ID values that move")
    cutover_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    executed_by = models.CharField(max_length=254, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-cutover_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source.slug} → {self.target.slug}"
