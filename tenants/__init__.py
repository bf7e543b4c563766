"""Public schema: tenants (client organisations), domains, users, memberships and roles."""
