"""Indexes the console's search, workbench and dashboards need on the shared message store.

They live here rather than in messaging/ because messaging core is shared with other work in
flight; every statement is idempotent (IF NOT EXISTS) so moving them into messaging's own
migrations later is a no-op here. Each supports a filter shape of console.search paired with
the keyset order (id DESC), so a selective filter walks its index instead of the whole table:

* state + id            status group / state filters (both directions)
* interface_id + id     interface filter
* counterparty + id     counterparty DIP ID filter
* event_code + id       event code filter
* created + id          time ranges to the second (keyset-compatible)
* publication_id        the "any id" lookup (transaction/correlation/SUR already indexed)
* common_block GIN      envelope containment search (jsonb_path_ops: only @>)
* exception category    "has an open exception of category X" and the workbench grouping
* transition to_state   dashboards: latency from Transition timestamps in a time window
"""

from django.db import migrations

INDEXES = [
    ("console_msg_state_id", "messaging_message (state, id)"),
    ("console_msg_interface_id", "messaging_message (interface_id, id)"),
    ("console_msg_counterparty_id", "messaging_message (counterparty_dip_id, id)"),
    ("console_msg_event_id", "messaging_message (event_code, id)"),
    ("console_msg_created_id", "messaging_message (created, id)"),
    ("console_msg_publication", "messaging_message (publication_id)"),
    ("console_msg_common_gin", "messaging_message USING gin (common_block jsonb_path_ops)"),
    (
        "console_exc_category_msg",
        "messaging_messageexception (category, status, message_id)",
    ),
    ("console_exc_open_msg", "messaging_messageexception (message_id) WHERE status = 'open'"),
    ("console_transition_state_at", "messaging_transition (to_state, at)"),
]


def _create(name: str, spec: str) -> str:
    table, _, rest = spec.partition(" ")
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table} {rest}"


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_initial"),
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(_create(name, spec), f"DROP INDEX IF EXISTS {name}")
        for name, spec in INDEXES
    ]
