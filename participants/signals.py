"""Signals other apps listen to. ``dip_id_transferred(transfer_id, dip_id, environment)`` is
sent after a transfer commits: messaging moves in-flight work for that DIP ID to the target."""

from django.dispatch import Signal

dip_id_transferred = Signal()
