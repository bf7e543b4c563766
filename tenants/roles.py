"""Roles. Client roles are held through a tenant membership; DCP staff roles are held by the
user and apply across tenants (every such cross-tenant access is audited)."""

from __future__ import annotations

from django.db import models


class ClientRole(models.TextChoices):
    CLIENT_ADMIN = "client_admin", "Client admin"
    CLIENT_OPERATOR = "client_operator", "Client operator"
    CLIENT_VIEWER = "client_viewer", "Client viewer"
    AUDITOR = "auditor", "Auditor"


class StaffRole(models.TextChoices):
    DCP_ADMIN = "dcp_admin", "DCP admin"
    DCP_OPERATOR = "dcp_operator", "DCP operator"


# Roles whose holders must use multi-factor authentication.
MFA_REQUIRED_CLIENT_ROLES = frozenset({ClientRole.AUDITOR})
