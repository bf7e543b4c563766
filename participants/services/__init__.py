"""Writes and business rules for onboarding, split by concept: dip_ids (MPID + role, DIP IDs),
nominations, api_keys, channels, checklist (profile + onboarding steps), extended (MDR/SDS),
rules (``may_send``), promotion, transfer, offboarding."""
