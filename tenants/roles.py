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


# Client roles whose holders must use multi-factor authentication: auditors, and client admins
# (who manage DIP keys and certificates). A tenant may extend it to every member
# (Tenant.mfa_for_all_members); DCP staff always need it.
MFA_REQUIRED_CLIENT_ROLES = frozenset({ClientRole.AUDITOR, ClientRole.CLIENT_ADMIN})
