"""Section `sandbox`: end-to-end deliveries/s through the sandbox DIP, beside a no-op floor.

Three processes, loopback only: the sandbox (``python -m sandbox serve``), a no-op webhook
receiver (``bench.sandbox_receiver``: parses each JSON array, counts, answers 201) and the load
generator (``bench.sandbox_load``). Measured: signed IF-021 Send API batches in (100 messages
each, 12 half-hours per message; API key, X-DIP signature verification, levels 1-3
validation, SUR duplicate check, group-committed SQLite rows, D0 stamping) -> one signed
callback per recipient per batch POSTed to the receiver and acknowledged. deliveries/s =
messages acknowledged by the receiver / (last acknowledgement - first send).

Floor: the load generator POSTing the same batch bytes straight to the same receiver (what
the receiver can take at all, without the sandbox). Bounded: a fixed message count and a
60 s cap per run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.run import Row
from dip.pki import Purpose, make_ca, make_leaf

SECTION = "sandbox"
ROOT = Path(__file__).resolve().parents[2]
DCP, SUP, SDS, MPAN = "3009012345", "2309010001", "1409010001", "2100000123459"
TARGET = 1000.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
    )


def _load(args: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "bench.sandbox_load", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def _received(receiver: str, n: int, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = httpx.get(f"{receiver}/count", timeout=5).json()
        if state["messages"] >= n:
            break
        time.sleep(0.05)
    return state


def _setup(folder: Path, hook: str) -> tuple[Path, Path, Path]:
    ca = make_ca(common_name="Bench DCP CA")
    leaf = make_leaf(issuer=ca, common_name="bench-dcp", purposes=(Purpose.SIGNING,))
    (folder / "ca.pem").write_bytes(ca.cert_pem)
    cert, key = leaf.write(folder, "dcp")
    registry = {
        "environment": "UIT",
        "admin_token": "bench-admin",
        "trust_roots": [str(folder / "ca.pem")],
        "participants": [
            {
                "name": "OpenDCP",
                "dip_ids": [
                    {"dip_id": DCP, "role": "DCP", "api_keys": {"primary": "bench-dcp-key"}}
                ],
            },
            {
                "name": "Acme",
                "mpid": "ACME",
                "dip_ids": [
                    {"dip_id": SUP, "role": "SUP", "nominated_dcps": [DCP], "webhooks": {"*": hook}}
                ],
            },
            {
                "name": "Brightwatt",
                "mpid": "BRWT",
                "dip_ids": [{"dip_id": SDS, "role": "SDS", "nominated_dcps": [DCP]}],
            },
        ],
        "mpans": {MPAN: {"gsp": "_K", "SUP": SUP, "SDS": SDS}},
    }
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump(registry), encoding="utf-8")
    return path, cert, key


def run(quick: bool) -> list[Row]:
    n = 3000 if quick else 20000
    batch, concurrency = 100, 4
    folder = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    rport, sport = _port(), _port()
    receiver = f"http://127.0.0.1:{rport}"
    sandbox = f"http://127.0.0.1:{sport}"
    registry, cert, key = _setup(folder, f"{receiver}/hook")
    procs = [
        _spawn(["-m", "bench.sandbox_receiver", "--port", str(rport)], folder / "receiver.log"),
        _spawn(
            [
                "-m",
                "sandbox",
                "serve",
                "--port",
                str(sport),
                "--registry",
                str(registry),
                "--db",
                str(folder / "sandbox.db"),
                "--callback-messages",
                str(batch),
            ],
            folder / "sandbox.log",
        ),
    ]
    try:
        _wait(f"{receiver}/count")
        _wait(f"{sandbox}/healthz")
        common = ["--batch", str(batch), "--concurrency", str(concurrency)]
        # Floor: the same batch bytes straight to the receiver.
        floor_run = _load(
            ["--target", "direct", "--url", f"{receiver}/hook", "--messages", str(n), *common]
        )
        floor_state = _received(receiver, n)
        floor = n / max(1e-9, floor_state["last"] - floor_run["started"])
        send_url = f"{sandbox}/dip-channel/IF-021"
        signed = ["--target", "sandbox", "--url", send_url, "--cert", str(cert), "--key", str(key)]
        # Warm-up (connections, caches), then the measured run.
        _load([*signed, "--messages", str(batch * 4), *common])
        _received(receiver, n + batch * 4)
        httpx.post(f"{receiver}/reset")
        measured = _load([*signed, "--messages", str(n), *common])
        state = _received(receiver, n)
        delivered = int(state["messages"])
        elapsed = max(1e-9, state["last"] - measured["started"])
        rate = delivered / elapsed
        accept_rate = n / max(1e-9, measured["finished"] - measured["started"])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    extra: dict[str, float | str] = {
        "messages": float(n),
        "delivered": float(delivered),
        "batch": float(batch),
        "concurrency": float(concurrency),
        "callbacks": float(state["requests"]),
        "send_statuses": json.dumps(measured["statuses"]),
        "cpus": float(os.cpu_count() or 0),
    }
    meets = "meets" if rate >= TARGET and delivered == n else "BELOW"
    return [
        Row(
            SECTION,
            "deliveries/s end to end (IF-021, batch 100)",
            rate,
            "msg/s",
            "no-op receiver, direct POST of the same batches",
            floor,
            f">= {TARGET:,.0f}/s ({meets})",
            extra,
        ),
        Row(SECTION, "Send API accepted (201) msgs/s", accept_rate, "msg/s", None, None, "", {}),
    ]
