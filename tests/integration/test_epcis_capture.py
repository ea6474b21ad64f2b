"""EPCIS capture on the node, against a real node process over HTTPS: the brand's warehouse
system posts EPCIS 2.0 documents (XML and JSON-LD) to its own organization's node, which records
each event with the brand's capture account; a job says where it stands; a document refused
before anything is sent creates no job; an event rejected on chain stops the job there; another
organization's identity is refused; a node without a capture account says so."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from jinqiao.client import Client, Credentials
from jinqiao.epcis import parse_document
from jinqiao.epcis.build import ObjectEventSpec, xml_document
from jinqiao.keys import InsecurePlaintext
from jinqiao.provision.network import NetworkLayout, init_network
from jinqiao.provision.presets import demo_spec
from jinqiao.provision.supplychain import with_supply_chain
from tests.helpers.answer_schemas import answer_problems
from tests.helpers.process import NodeProcess, free_port_base
from tests.integration.test_supplychain_api import SCHEMA, SHANGHAI, sgtin

pytestmark = pytest.mark.e2e

RETAILER_PARTY = "urn:epc:id:pgln:6901234.00009"


@dataclass
class Net:
    directory: Path
    layout: NetworkLayout
    node: NodeProcess
    brand: httpx.Client
    client: Client

    def capture(self, document: bytes, media_type: str, **params: Any) -> httpx.Response:
        return self.brand.post(
            f"{self.node.url}/v1/epcis/capture",
            content=document,
            headers={"content-type": media_type},
            params=params,
            timeout=10,
        )

    def finished(self, location: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.brand.get(f"{self.node.url}{location}", timeout=10).json()
            if not job["running"]:
                return job
            time.sleep(0.1)
        raise AssertionError(f"capture {location} still running after 60 s")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    directory = tmp_path_factory.mktemp("capture")
    spec = with_supply_chain(demo_spec(validators=1, base_api_port=free_port_base(1)))
    # The brand runs the one validator: its node captures for it.
    organizations = tuple(
        msgspec.structs.replace(o, validators=1 if o.id == "brand" else 0)
        for o in spec.organizations
    )
    spec = msgspec.structs.replace(spec, organizations=organizations)
    layout = init_network(directory, spec, protection=InsecurePlaintext())
    home = directory / layout.nodes[0].home
    shutil.copy(directory / layout.account("brand-ops").key_file, home / "capture_key.json")
    config = json.loads((home / "config.json").read_text())
    config.update(epcis_capture_key_file="capture_key.json", epcis_schema_file=str(SCHEMA))
    (home / "config.json").write_text(json.dumps(config))
    node = NodeProcess(home).start()
    brand = Credentials.for_account(directory, "brand-ops").http_client()
    client = Client(node.url, credentials=node.credentials, genesis_file=directory / "genesis.json")
    try:
        yield Net(directory, layout, node, brand, client)
    finally:
        brand.close()
        client.close()
        assert node.stop() == 0, node.log()


def test_an_xml_document_is_recorded_event_by_event(net: Net) -> None:
    item, now = sgtin("CAP1"), int(time.time() * 1000) - 1_000
    document = xml_document(
        [
            ObjectEventSpec("commissioning", [item], now, action="ADD", read_point=SHANGHAI),
            ObjectEventSpec("shipping", [item], now + 1, destination=RETAILER_PARTY),
        ],
        created_ms=now,
    )
    answer = net.capture(document, "application/xml", receiver=f"{RETAILER_PARTY}=retailer")
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert location == f"/v1/epcis/capture/{answer.json()['captureID']}"
    job = net.finished(location)
    assert (job["success"], job["state"], job["errors"]) == (True, "succeeded", [])
    assert [t["status"] for t in job["transactions"]] == ["ok", "ok"]
    assert job["organization"] == "brand" and job["submitted_by"] == "brand-ops"
    events = net.client.supplychain.history(item)
    assert [(e.kind, e.organization, e.receiver) for e in events] == [
        ("commissioning", "brand", ""),
        ("shipping", "brand", "retailer"),
    ]
    hashes = [event.hash_bytes for event in parse_document(document, None).events]
    assert [e.event_hash for e in events] == hashes


def test_a_json_ld_document_is_validated_and_recorded(net: Net) -> None:
    item, now = sgtin("CAP-JSON"), int(time.time() * 1000) - 1_000
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now / 1000)) + ".000Z"
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": moment,
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": moment,
                    "eventTimeZoneOffset": "+00:00",
                    "epcList": [item],
                    "action": "ADD",
                    "bizStep": "commissioning",
                    "readPoint": {"id": SHANGHAI},
                }
            ]
        },
    }
    answer = net.capture(json.dumps(document).encode(), "application/ld+json")
    assert answer.status_code == 202, answer.text
    job = net.finished(answer.headers["Location"])
    assert job["success"] and job["document_format"] == "json"
    custody = net.client.supplychain.item(item)
    assert custody is not None and custody.custodian == "brand"

    del document["epcisBody"]["eventList"][0]["eventTime"]  # type: ignore[index]
    refused = net.capture(json.dumps(document).encode(), "application/ld+json")
    assert (refused.status_code, refused.json()["code"]) == (400, "epcis_schema_invalid")


def test_an_event_rejected_on_chain_stops_the_job_there(net: Net) -> None:
    item, now = sgtin("CAP2"), int(time.time() * 1000) - 1_000
    document = xml_document(
        [
            ObjectEventSpec("commissioning", [item], now, action="ADD", read_point=SHANGHAI),
            ObjectEventSpec("commissioning", [item], now + 1, action="ADD", read_point=SHANGHAI),
            ObjectEventSpec("observing", [item], now + 2, read_point=SHANGHAI),
        ],
        created_ms=now,
    )
    answer = net.capture(document, "application/xml")
    job = net.finished(answer.headers["Location"])
    assert (job["success"], job["state"]) == (False, "failed")
    assert [(t["status"], t["code"]) for t in job["transactions"]] == [
        ("ok", "ok"),
        ("rejected", "already_commissioned"),
    ]
    assert job["errors"][0]["type"] == "already_commissioned"
    assert len(net.client.supplychain.history(item)) == 1
    # The accepted job and the failed one keep to the document's CaptureJob (ADR 0040).
    document = net.brand.get(f"{net.node.url}/openapi.json", timeout=10).json()
    finished = net.brand.get(f"{net.node.url}{answer.headers['Location']}", timeout=10)
    problems = answer_problems(document, answer)[1] + answer_problems(document, finished)[1]
    assert not problems, "\n".join(problems)


def test_bad_captures_are_refused_and_change_nothing(net: Net) -> None:
    before = net.brand.get(f"{net.node.url}/v1/status", timeout=10).json()["height"]
    for document, media_type, status, code in (
        (b"<epcis", "application/xml", 400, "epcis_malformed"),
        (b"{}", "text/plain", 415, "unsupported_media_type"),
    ):
        answer = net.capture(document, media_type)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    item, now = sgtin("CAP3"), int(time.time() * 1000) - 1_000
    shipment = xml_document(
        [ObjectEventSpec("shipping", [item], now, destination="urn:epc:id:pgln:6901234.00077")],
        created_ms=now,
    )
    answer = net.capture(shipment, "application/xml")
    assert (answer.status_code, answer.json()["code"]) == (400, "epcis_unknown_receiver")
    answer = net.capture(shipment, "application/xml", receiver="no-equals-sign")
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_request")
    missing = net.brand.get(f"{net.node.url}/v1/epcis/capture/999999", timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    # Another organization's identity may not make the brand's node sign for the brand.
    with Credentials.for_account(net.directory, "distributor-ops").http_client() as other:
        answer = other.post(
            f"{net.node.url}/v1/epcis/capture",
            content=shipment,
            headers={"content-type": "application/xml"},
            timeout=10,
        )
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    assert net.client.supplychain.item(item) is None
    after = net.brand.get(f"{net.node.url}/v1/status", timeout=10).json()["height"]
    assert after >= before
