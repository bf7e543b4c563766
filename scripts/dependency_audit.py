"""`make audit`: pip-audit over requirements.lock (every pinned package, dev tools included).

pip-audit needs a vulnerability database: the PyPI JSON API (``-s pypi``, the default here)
or OSV (``-s osv``). Where neither answers (an offline build box, a mirror that serves only
the package index), the audit cannot run: we say so plainly and exit 0 so an offline `make`
does not fail — a skipped audit is reported, never passed off as a clean one. With a database
reachable, findings exit non-zero (pip-audit's own exit code).

Environment: ``AUDIT_SERVICE=pypi|osv`` picks the database (default: the first that answers);
``AUDIT_STRICT=1`` makes an unreachable database an error (exit 2), for CI that must audit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
TIMEOUT = 10
# A release with published advisories: a database that knows nothing about it is not one.
PROBE_NAME, PROBE_VERSION = "django", "4.2.0"


def _pypi_answers() -> bool:
    url = f"https://pypi.org/pypi/{PROBE_NAME}/{PROBE_VERSION}/json"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return bool(json.load(response).get("vulnerabilities"))
    except (OSError, ValueError):
        return False


def _osv_answers() -> bool:
    query = {"package": {"name": PROBE_NAME, "ecosystem": "PyPI"}, "version": PROBE_VERSION}
    request = urllib.request.Request(
        "https://api.osv.dev/v1/query",
        data=json.dumps(query).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return bool(json.load(response).get("vulns"))
    except (OSError, ValueError):
        return False


PROBES = {"pypi": _pypi_answers, "osv": _osv_answers}


def main() -> int:
    wanted = os.environ.get("AUDIT_SERVICE", "")
    candidates = [wanted] if wanted else list(PROBES)
    if any(c not in PROBES for c in candidates):
        print(f"AUDIT_SERVICE must be one of {', '.join(PROBES)}", file=sys.stderr)
        return 2
    service = next((c for c in candidates if PROBES[c]()), None)
    if service is None:
        print(
            "DEPENDENCY AUDIT NOT RUN: no vulnerability database is reachable from this machine "
            f"(tried: {', '.join(candidates)}). Nothing was checked; run `make audit` where "
            "pypi.org's JSON API or api.osv.dev answers (see docs/security.md).",
            file=sys.stderr,
        )
        return 2 if os.environ.get("AUDIT_STRICT") == "1" else 0
    print(f"Auditing {LOCK.name} against the {service} vulnerability database…")
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        str(LOCK),
        "--no-deps",  # the lock pins every package: nothing to resolve
        "--disable-pip",
        "--vulnerability-service",
        service,
        "--progress-spinner",
        "off",
        "--desc",
    ]
    return subprocess.call(command, cwd=ROOT)  # noqa: S603 (fixed argv)


if __name__ == "__main__":
    sys.exit(main())
