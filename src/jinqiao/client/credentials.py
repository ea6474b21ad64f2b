"""An API client's credentials: the client certificate and key that authenticate it to a node,
and the consortium roots that authenticate the node to it (docs/access.md).

``jinqiao init`` writes them for every account in ``<network>/clients/<account>/`` with a
``client.json`` naming the files; ``Credentials.load(that directory)`` or
``Credentials.for_account(network, account)`` reads them, ``Client(url, credentials=…)`` uses
them, and so does every ``httpx`` client made with ``credentials.http_client(...)``.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jinqiao.core.errors import InvalidInput

CLIENT_CONFIG_FILE = "client.json"
MAX_CLIENT_CONFIG_BYTES = 64 * 1024


@dataclass(frozen=True)
class Credentials:
    certificate_file: Path
    key_file: Path
    roots_file: Path
    account: str = ""
    organization: str = ""

    @classmethod
    def load(cls, directory: Path) -> Credentials:
        """The credentials ``<directory>/client.json`` names (paths relative to it)."""
        path = directory / CLIENT_CONFIG_FILE
        try:
            data = path.read_bytes()[: MAX_CLIENT_CONFIG_BYTES + 1]
            if len(data) > MAX_CLIENT_CONFIG_BYTES:
                raise InvalidInput(f"{path} is over {MAX_CLIENT_CONFIG_BYTES} bytes")
            config = json.loads(data)
            return cls(
                directory / str(config["certificate_file"]),
                directory / str(config["key_file"]),
                directory / str(config["roots_file"]),
                str(config.get("account", "")),
                str(config.get("organization", "")),
            )
        except OSError as exc:
            raise InvalidInput(f"cannot read client credentials {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path} is not a client configuration: {exc!r}") from None

    @classmethod
    def for_account(cls, network_directory: Path, account: str) -> Credentials:
        """The credentials ``jinqiao init`` wrote for ``account`` in ``network_directory``."""
        if not account or "/" in account or account.startswith("."):
            raise InvalidInput(f"{account!r} is not an account name")
        return cls.load(network_directory / "clients" / account)

    def ssl_context(self) -> ssl.SSLContext:
        """Checks the node's certificate against the consortium roots (and its name), and
        presents this client's certificate."""
        context = ssl.create_default_context(cafile=str(self.roots_file))
        try:
            context.load_cert_chain(self.certificate_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(
                f"cannot load the client certificate {self.certificate_file}: {exc}"
            ) from None
        return context

    def http_client(self, **options: Any) -> httpx.Client:
        """An ``httpx.Client`` that authenticates with these credentials."""
        return httpx.Client(verify=self.ssl_context(), **options)
