"""The 18 DIP roles as the DIP portal lists them (seed 000, "DIP roles" table).

``dip_active`` keeps the portal's marker: ``*`` active on the DIP; ``¥`` and ``$`` are not
explained in the source. Inferred (documented in docs/onboarding.md): ``¥`` = listed but not yet
DIP-active (SMSO, MAP); ``$`` = active through the extended MDR/SDS arrangement (seed 002).
Blank = no marker in the table (MRS). ``requestable`` = a participant may ask for a DIP ID in
this role; central roles (MDS, LSS, ISD, VAS, EES) are set up by Elexon/RECCo.
``market_participant_role`` is the one-character legacy DTN market role code (M16 ``marketRole``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dip.identifiers import ROLE_CODES


@dataclass(frozen=True)
class DipRole:
    code: str
    dip_active: str
    requestable: bool
    service_name: str
    market_segment: str
    market_participant_role: str

    @property
    def is_dip_active(self) -> bool:
        return self.dip_active in ("*", "$")

    @property
    def known_to_protocol(self) -> bool:
        """Whether dip.identifiers knows the code as a message role (sender/recipient)."""
        return self.code in ROLE_CODES


SMART = "Smart and Traditional (non-smart) market Segments"
CENTRAL = "BSC Central Services"

DIP_ROLES: tuple[DipRole, ...] = (
    DipRole("MSA", "*", True, "Metering Service (Advanced)", "Advanced Market Segment", "T"),
    DipRole("ADS", "*", True, "Advanced Data Service", "Advanced Market Segment", "O"),
    DipRole("MSS", "*", True, "Metering Service (Smart)", SMART, "S"),
    DipRole("MRS", "", False, "Metering Reading Service", SMART, "6"),
    DipRole("SDS", "*", True, "Smart Data Service", SMART, "N"),
    DipRole("SMSO", "¥", True, "Smart Meter System Operator", SMART, ""),
    DipRole("MDR", "$", True, "Meter Data Retrieval Service", SMART, ""),
    DipRole(
        "UMSO",
        "*",
        True,
        "Unmetered Supplies Operator Service",
        "Unmetered Supplies Market Segment",
        "3",
    ),
    DipRole(
        "UMSDS",
        "*",
        True,
        "Unmetered Supplies Data Service",
        "Unmetered Supplies Market Segment",
        "Q",
    ),
    DipRole("MDS", "*", False, "Market-wide Data Service", CENTRAL, ""),
    DipRole("LSS", "*", False, "Load Shaping Service", CENTRAL, ""),
    DipRole("ISD", "*", False, "Industry Standing Data", CENTRAL, ""),
    DipRole("VAS", "*", False, "Volume Allocation Service", CENTRAL, ""),
    DipRole("REGS", "*", True, "Registration Service", "Registration", "P"),
    DipRole("SUP", "*", True, "Supplier", "Supplier", "X"),
    DipRole("MAP", "¥", True, "Meter Asset Provider", "Supplier", "8"),
    DipRole(
        "LDSO",
        "*",
        True,
        "Licensed Distribution System Operator (IDNOs & DNOs)",
        "Distribution Network Operator",
        "R",
    ),
    DipRole("EES", "*", False, "Electricity Enquiry Service", "RECCo", "L"),
)
ROLES_BY_CODE: dict[str, DipRole] = {r.code: r for r in DIP_ROLES}
ROLE_CHOICES = [(r.code, f"{r.code} — {r.service_name}") for r in DIP_ROLES]
# Seed 002 §3.3.3: existing MPIDs with a Supplier role are pre-approved; others need approval.
PRE_APPROVED_ROLES = frozenset({"SUP"})
# Seed 002 §4: optional and extended MDR/SDS interfaces.
OPTIONAL_MDR_INTERFACES = ("IF-006", "IF-008", "IF-024", "IF-026")
EXTENDED_MDR_INTERFACES = ("IF-061", "IF-062", "IF-063", "IF-064", "IF-065")
