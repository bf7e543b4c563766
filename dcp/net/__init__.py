"""The network edge: what we call on a tenant's behalf and how fast strangers may call us.

``dcp.net.outbound`` is the outbound-URL policy (SSRF guard), ``dcp.net.http`` the httpx client
that enforces it on the address actually connected to, ``dcp.net.ratelimit`` a fixed-window
counter in the shared cache (every process, every host sees the same count)."""
