"""The sandbox's readiness probe answers once start-up has finished."""

from __future__ import annotations

import httpx


def test_sandbox_readyz(sandbox_url: str) -> None:
    response = httpx.get(f"{sandbox_url}/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
