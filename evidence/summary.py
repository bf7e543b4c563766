"""The human-readable PDF summary of a pack."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from evidence.models import EvidencePack
from evidence.pdf import PdfDocument


@dataclass
class Stats:
    messages: int = 0
    by_interface: Counter[str] = field(default_factory=Counter)
    by_state: Counter[str] = field(default_factory=Counter)
    by_day: Counter[str] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)


def summary_pdf(
    pack: EvidencePack, tenant_name: str, stats: Stats, manifest: dict[str, Any]
) -> bytes:
    doc = PdfDocument(title=f"OpenDCP evidence pack {pack.public_id}")
    doc.text("OpenDCP evidence pack", size=18, bold=True)
    doc.text(f"{tenant_name} - {pack.get_kind_display()}", size=12)
    doc.gap()
    params = manifest["parameters"]
    doc.text(f"Pack: {pack.public_id}")
    doc.text(f"Period: {params['period_start']} to {params['period_end']} (inclusive)")
    doc.text(f"Interfaces: {', '.join(params['interfaces']) or 'all'}")
    doc.text(f"DIP IDs: {', '.join(params['dip_ids']) or 'all'}")
    doc.text(f"MPANs: {', '.join(params['mpans'][:10]) or 'all'}")
    doc.text(
        f"Generated: {manifest['created_at']} by {manifest['generator']['name']} "
        f"{manifest['generator']['version']}"
    )
    doc.gap()
    if not stats.messages:
        doc.text("No messages in this period: this pack is valid and records that.", bold=True)
    doc.text("Contents", size=12, bold=True)
    for name, count in sorted(stats.counts.items()):
        doc.text(f"  {name}: {count}")
    anchor = manifest["audit_anchor"]
    doc.gap()
    doc.text("Audit chain", size=12, bold=True)
    doc.text(
        f"  rows {anchor.get('first_seq', '-')} to {anchor.get('last_seq', '-')}; "
        f"head #{anchor['head_seq']}"
    )
    doc.text(f"  anchor prev_hash {anchor.get('prev_hash', '-')}")
    doc.text(f"  head hash {anchor['head_hash']}")
    doc.gap()
    doc.bar_chart("Messages per day", sorted(stats.by_day.items()))
    doc.bar_chart("Messages per interface", sorted(stats.by_interface.items()))
    doc.bar_chart("Messages per state", sorted(stats.by_state.items()))
    doc.text(
        "Verify: python verify_evidence_pack.py PACK.zip --key-url "
        "https://<host>/.well-known/opendcp-evidence-key.pem"
    )
    return doc.render()
