"""Run a node process: the node's block production and its HTTP API on one asyncio loop.

SIGTERM and SIGINT stop it gracefully: the API stops accepting requests, the block in progress is
finished and stored, the store is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import signal
import ssl
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from jinqiao.api.access import with_access_control
from jinqiao.api.app import create_app, with_body_limit
from jinqiao.api.capture import CaptureService, JobStore
from jinqiao.api.connections import guarded_protocol
from jinqiao.api.exposure import with_request_guard
from jinqiao.api.ratelimit import node_rate_limiter
from jinqiao.epcis import SchemaValidator
from jinqiao.keys import load_key
from jinqiao.node.config import load_config
from jinqiao.node.private_data import organization_of_certificate
from jinqiao.node.service import Node

log = logging.getLogger(__name__)


class NodeServer(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM once it has stopped serving, which would kill the
    process before the node closes its store. The node handles the signals itself instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard limit, so that the API's connection caps,
    not the descriptor limit, decide which connections are refused. Returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


GC_YOUNG_THRESHOLD = 20_000
"""New container objects between two collections of the youngest generation (Python's default:
700). A block of 2,000 transactions makes hundreds of thousands, nearly all freed by reference
counting; at 700 the collector ran hundreds of times a block (ADR 0061)."""


def tune_garbage_collector() -> None:
    """Once the node is built: leave what it made at start (contracts, schemas, routes, its
    caches' first contents) out of every later collection (``gc.freeze``), and collect the young
    generation after ``GC_YOUNG_THRESHOLD`` new objects; the older generations keep their
    default ratios. Reference cycles are still collected, later."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


async def serve(home: Path, *, api_port: int | None = None) -> None:
    # The JINQIAO_* variables of the environment override the configuration's addresses
    # (node.config.ENVIRONMENT_OVERRIDES): a container or a unit file decides where it binds.
    node = Node(home, config=load_config(home, environment=os.environ))
    configure_logging(node.config.log_level)
    limits = node.config.api_limits
    open_files = raise_open_files_limit()
    if open_files != resource.RLIM_INFINITY and open_files < limits.max_connections + 256:
        log.warning(
            "open files limit %d is close to api_limits.max_connections %d",
            open_files,
            limits.max_connections,
        )
    port = node.config.api_port if api_port is None else api_port
    api = create_app(node, _capture_service(home, node))
    app: Any = with_body_limit(api)
    tls: dict[str, Any] = {}
    if node.config.api_authentication:
        certificate_file = home / "tls" / "node.crt"
        organization = organization_of_certificate(certificate_file)
        limiter = node_rate_limiter(node.config.api_rate_limit, node.metrics_registry)
        app = with_access_control(
            app, api, node, organization, node.config.revoked_certificates, limiter
        )
        tls = {
            "ssl_certfile": str(certificate_file),
            "ssl_keyfile": str(home / "tls" / "node.key"),
            "ssl_ca_certs": str(home / "tls" / "roots.pem"),
            # The public routes are served without a certificate; api.access refuses the rest.
            "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        }
    app = with_request_guard(app, node.config, port)
    tune_garbage_collector()
    config = uvicorn.Config(
        app,
        host=node.config.api_host,
        port=port,
        http=guarded_protocol(limits),
        log_level=node.config.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=5,
        backlog=2_048,
        **tls,
    )
    server = NodeServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if tls:
        # Loaded here rather than in serve(), so that a rotated certificate reaches the API's
        # context too (node.certificate).
        config.load()
        if config.ssl is not None:
            node.certificate.follow(config.ssl)

    def request_stop(signal_number: int) -> None:
        log.info("received %s; stopping", signal.Signals(signal_number).name)
        server.should_exit = True
        node.stop_waiting()

    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, request_stop, signal_number)
    loop.add_signal_handler(signal.SIGHUP, node.certificate.reload)

    def essential(work: Coroutine[Any, Any, None], name: str, what: str) -> asyncio.Task[None]:
        """A task the node cannot run without: if it fails, the node stops."""

        def ended(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.critical("%s failed; stopping the node", what, exc_info=task.exception())
                server.should_exit = True

        task = asyncio.create_task(work, name=name)
        task.add_done_callback(ended)
        return task

    producer = essential(node.run(stop), "block-producer", "block production")
    eraser = essential(node.follow_credit_erasures(stop), "credit-erasures", "credit erasure")
    pruner = essential(node.prune(stop), "pruner", "pruning of old state")
    watcher = essential(
        node.certificate.watch(stop), "tls-certificate", "the TLS certificate check"
    )
    log.info(
        "node %s serving %s://%s:%d (chain %s)",
        node.config.name,
        "https" if tls else "http",
        node.config.api_host,
        config.port,
        node.genesis.chain_id,
    )
    try:
        await server.serve()
    finally:
        stop.set()
        try:
            await eraser
            await pruner
            await watcher
            await producer
        except Exception as exc:
            raise SystemExit(f"node stopped after a fault: {exc}") from exc
        finally:
            node.close()


def _capture_service(home: Path, node: Node) -> CaptureService | None:
    """The EPCIS capture service, if the config names a capture key (opened now, like the
    validator key: a wrong passphrase stops the node at start, not at the first capture)."""
    if not node.config.epcis_capture_key_file:
        return None
    signer = load_key(home / node.config.epcis_capture_key_file)
    schema_file = node.config.epcis_schema_file
    schema = SchemaValidator(home / schema_file) if schema_file else None
    store = JobStore(home / node.config.data_dir / "epcis-capture.sqlite")
    log.info("EPCIS capture signs with account %s", signer.address.hex())
    return CaptureService(node, signer, store, schema)


def run(home: Path, *, api_port: int | None = None) -> None:
    asyncio.run(serve(home, api_port=api_port))
