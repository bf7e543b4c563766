"""Scenario traffic, the admin API, the CLI against a running sandbox and the web pages."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import httpx
import pytest
import yaml

from sandbox.cli import main
from sandbox.core import Sandbox
from sandbox.scenarios import peak_factor_at
from tests.sandbox.conftest import Pki, Receiver, drain
from tests.sandbox.helpers import ACME, ADMIN, BRIGHTWATT, GREENFIELD, if021, send


def _run(url: str, name: str, **overrides: object) -> dict[str, object]:
    response = httpx.post(f"{url}/admin/scenarios/{name}/start", headers=ADMIN, json=overrides)
    assert response.status_code == 201, response.text
    run = response.json()
    deadline = time.time() + 15
    while run["state"] == "running" and time.time() < deadline:
        time.sleep(0.1)
        runs = httpx.get(f"{url}/admin/scenarios", headers=ADMIN).json()["runs"]
        run = next(r for r in runs if r["id"] == run["id"])
    drain(url)
    return run


def _items(receiver: Receiver, before: int) -> list[dict[str, object]]:
    return [i for r in receiver.get("/acme/pub")[before:] for i in r.items]


def test_steady_scenario_delivers_to_our_client(sandbox_url: str, receiver: Receiver) -> None:
    before = len(receiver.get("/acme/pub"))
    run = _run(sandbox_url, "steady", rate=50, duration=0.6, periods=2)
    assert run["state"] == "finished" and run["sent"] >= 20
    items = _items(receiver, before)
    assert len(items) == run["sent"]
    assert all(i["payload"]["CommonBlock"]["S1"]["senderDIPID"] == GREENFIELD for i in items)
    assert all(r.verified for r in receiver.get("/acme/pub")[before:])


def test_duplicate_storm_and_malformed_and_bad_signatures(
    sandbox_url: str, receiver: Receiver
) -> None:
    before = len(receiver.get("/acme/pub"))
    run = _run(sandbox_url, "duplicate-storm", rate=10, duration=0.5, duplicates=3)
    assert run["duplicates"] == 3 * (run["sent"] // 4)
    items = _items(receiver, before)
    surs = {i["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] for i in items}
    assert len(surs) == len(items)  # every duplicate has its own SUR and transaction
    before = len(receiver.get("/acme/pub"))
    run = _run(
        sandbox_url,
        "malformed",
        rate=40,
        duration=0.5,
        malformed_rate=0.5,
        bad_signature_rate=0.5,
        seed=7,
    )
    assert run["malformed"] and run["bad_signature"]
    callbacks = receiver.get("/acme/pub")[before:]
    assert any(c.reason == "certificate_untrusted" for c in callbacks)


def test_out_of_order_sequences(sandbox_url: str, receiver: Receiver) -> None:
    before = len(receiver.get("/acme/pub"))
    overrides = {"from": [GREENFIELD], "interface": "IF-021", "event_code": "[ActivePower]"}
    run = _run(sandbox_url, "out-of-order", rate=20, duration=0.3, **overrides)
    assert run["sent"] >= 4
    stamps = [
        i["payload"]["CommonBlock"]["S1"]["senderTimestamp"] for i in _items(receiver, before)
    ]
    assert any(a > b for a, b in itertools.pairwise(stamps)), "newest first"


def test_scenario_overrides_are_checked(sandbox_url: str) -> None:
    bad = httpx.post(
        f"{sandbox_url}/admin/scenarios/steady/start", headers=ADMIN, json={"to": ["0000000001"]}
    )
    assert bad.status_code == 400
    missing = httpx.post(f"{sandbox_url}/admin/scenarios/../etc/start", headers=ADMIN, json={})
    assert missing.status_code in (400, 404)


def test_peak_shape() -> None:
    assert peak_factor_at(0.1, 5) == 1.0 and peak_factor_at(0.6, 5) == 5.0
    assert 1.0 < peak_factor_at(0.4, 5) < 5.0 and 1.0 <= peak_factor_at(0.99, 5) < 1.5


def test_admin_needs_the_token(sandbox_url: str) -> None:
    assert httpx.get(f"{sandbox_url}/admin/registry").status_code == 401
    assert (
        httpx.get(f"{sandbox_url}/admin/registry", headers={"X-Admin-Token": "nope"}).status_code
        == 401
    )
    reg = httpx.get(
        f"{sandbox_url}/admin/registry", headers={"Authorization": "Bearer test-admin"}
    ).json()
    acme = next(d for d in reg["dip_ids"] if d["dip_id"] == ACME)
    assert acme["role"] == "SUP" and acme["participant"] == "Acme Energy"
    dcp = next(d for d in reg["dip_ids"] if d["role"] == "DCP")
    assert dcp["api_keys"]["primary"].startswith("...")


def test_admin_edits_registry(sandbox_url: str, sb: Sandbox, pki: Pki) -> None:
    new = "2309077777"
    r = httpx.put(
        f"{sandbox_url}/admin/dip-ids/{new}",
        headers=ADMIN,
        json={"role": "SUP", "participant": "Newco", "nominated_dcps": ["3009012345"]},
    )
    assert r.status_code == 200 and sb.registry.is_nominated(new, "3009012345")
    assert httpx.put(f"{sandbox_url}/admin/dip-ids/bad", headers=ADMIN, json={}).status_code == 400
    assert (
        httpx.put(
            f"{sandbox_url}/admin/mpans/2100000543210", headers=ADMIN, json={"SUP": new}
        ).status_code
        == 200
    )
    assert (
        httpx.put(f"{sandbox_url}/admin/mpans/2100000543211", headers=ADMIN, json={}).status_code
        == 400
    )
    assert httpx.delete(f"{sandbox_url}/admin/dip-ids/{new}", headers=ADMIN).json() == {
        "removed": True
    }
    issued = httpx.post(
        f"{sandbox_url}/admin/pki/issue", headers=ADMIN, json={"common_name": "x"}
    ).json()
    assert "BEGIN CERTIFICATE" in issued["cert_pem"] and "PRIVATE KEY" in issued["key_pem"]
    ca = httpx.get(f"{sandbox_url}/sandbox/ca.pem").text
    assert ca.startswith("-----BEGIN CERTIFICATE-----")


def test_cli_fault_commands_against_the_server(
    sandbox_url: str, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--url", sandbox_url, "--token", "test-admin"]
    assert main(["fault", "down", "--duration", "0.3", *common]) == 0
    assert send(sandbox_url, pki.dcp, if021()).status_code == 503
    assert main(["fault", "list", *common]) == 0
    assert '"kind": "down"' in capsys.readouterr().out
    assert (
        main(
            [
                "fault",
                "add",
                "delay",
                "--side",
                "delivery",
                "--seconds",
                "0.01",
                "--dip-id",
                ACME,
                *common,
            ]
        )
        == 0
    )
    assert main(["fault", "clear", *common]) == 0
    assert send(sandbox_url, pki.dcp, if021()).status_code == 201
    with pytest.raises(SystemExit):
        main(["fault", "add", "bogus", *common])


def test_web_pages_and_healthz(sandbox_url: str, pki: Pki) -> None:
    send(sandbox_url, pki.dcp, if021())
    drain(sandbox_url)
    index = httpx.get(f"{sandbox_url}/")
    assert index.status_code == 200 and "Acme Energy" in index.text and "<script" not in index.text
    page = httpx.get(f"{sandbox_url}/traffic", params={"participant": BRIGHTWATT})
    assert page.status_code == 200 and "T-IF-021-1409010001" in page.text
    hostile = httpx.get(f"{sandbox_url}/traffic", params={"participant": "<script>x</script>"})
    assert "<script>x" not in hostile.text
    health = httpx.get(f"{sandbox_url}/healthz").json()
    assert health["status"] == "ok" and health["environment"] == "UIT"


def test_demo_registry_and_scenarios_load(tmp_path: Path) -> None:
    from sandbox.cli import DEFAULT_REGISTRY
    from sandbox.core import Settings
    from sandbox.registry import Registry

    reg = Registry.from_yaml(DEFAULT_REGISTRY)
    assert reg.get("2309010001").mpid == "ACME"  # type: ignore[union-attr]
    assert reg.get("1409010001").role == "SDS"  # type: ignore[union-attr]
    assert all(reg.is_nominated(d, "3009012345") for d in ("2309010001", "1409010001"))
    sb = Sandbox(Settings(db_path=tmp_path / "s.db"), reg)
    try:
        for name in sb.scenarios.available():
            params = sb.scenarios._check(sb.scenarios.load(name))
            assert params["from"] and params["to"], name
            assert yaml.safe_load((sb.settings.scenarios_dir / f"{name}.yaml").read_text())
    finally:
        sb.store.close()
