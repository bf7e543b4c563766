"""Append-only, hash-chained audit log, kept in the public schema (platform and staff actions)
and in every tenant schema (that tenant's actions)."""
