"""``serve --tls``: HTTPS with client certificates required (mTLS), as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dip.client import build_ssl_context
from sandbox.identity import SandboxPki, load_pki
from tests.sandbox.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SandboxPki]]:
    state = tmp_path_factory.mktemp("tls")
    pki = load_pki(state)  # the server finds and reuses it
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--db",
            str(state / "s.db"),
            "--tls",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    issued = pki.issue_client("rig")
    ctx = build_ssl_context(
        client_cert_pem=issued.cert_pem, client_key_pem=issued.key_pem, ca_pem=pki.ca_cert_pem
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/healthz", verify=ctx, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url, pki
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_client_certificate_is_required(tls_sandbox: tuple[str, SandboxPki]) -> None:
    url, pki = tls_sandbox
    issued = pki.issue_client("rig")
    ctx = build_ssl_context(
        client_cert_pem=issued.cert_pem, client_key_pem=issued.key_pem, ca_pem=pki.ca_cert_pem
    )
    assert httpx.get(url + "/healthz", verify=ctx).json()["status"] == "ok"
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/healthz", verify=build_ssl_context(ca_pem=pki.ca_cert_pem))
