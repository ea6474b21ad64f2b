"""What the CLI commands share: finding the network, the node and keys; failing with a message."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import msgspec
import typer

from jinqiao.cli.journal import TransactionJournal, journal_directory
from jinqiao.client import (
    Client,
    ClientError,
    Credentials,
    TransactionPending,
    TransactionRefused,
    TransactionResult,
)
from jinqiao.core.crypto import Signer
from jinqiao.core.errors import InvalidInput, JinqiaoError
from jinqiao.keys import load_key
from jinqiao.provision.network import NetworkLayout, load_layout
from jinqiao.terminal import console, emit_json, errors

EXIT_REJECTED = 2
"""Exit code: committed, and the contract rejected it (its code in the receipt)."""
EXIT_REFUSED = 3
"""Exit code: refused at admission; nothing changed."""
EXIT_PENDING = 4
"""Exit code: pending, outcome unknown; ``jinqiao tx resend HASH`` completes it at most once."""
DEFAULT_COMMIT_TIMEOUT_S = 30.0


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@dataclass
class Target:
    """Where to send requests: a node URL and the genesis to verify against."""

    url: str
    genesis_file: Path | None
    layout: NetworkLayout | None
    network_dir: Path | None
    wait: bool = True
    timeout_s: float = DEFAULT_COMMIT_TIMEOUT_S
    credentials: Credentials | None = None
    """The client certificate the requests authenticate with (``--as``; docs/access.md)."""
    request_signer: Signer | None = None
    """Or the account key that signs every request (``--sign-as``; RFC 9421), the node's
    certificate checked against ``roots_file``."""
    roots_file: Path | None = None

    def client(self) -> Client:
        others = [node.api_url for node in self.layout.nodes] if self.layout else []
        client = Client(
            self.url,
            genesis_file=self.genesis_file,
            other_urls=others,
            credentials=self.credentials,
            signer=self.request_signer,
            roots_file=self.roots_file,
        )
        client.journal = self.journal().save
        client.commit_timeout_s = self.timeout_s if self.wait else 0.0
        return client

    def journal(self) -> TransactionJournal:
        return TransactionJournal(journal_directory(self.network_dir))

    def key(self, name_or_path: str) -> Signer:
        """An account key by its name in the network directory, or a key file path."""
        path = Path(name_or_path)
        if not path.exists() and self.layout is not None and self.network_dir is not None:
            path = self.network_dir / self.layout.account(name_or_path).key_file
        return load_key(path)

    def address(self, name_or_hex: str) -> bytes:
        """An address given as 40 hex characters or as an account name of the network."""
        if len(name_or_hex) == 40:
            try:
                return bytes.fromhex(name_or_hex)
            except ValueError:
                pass
        if self.layout is not None:
            return bytes.fromhex(self.layout.account(name_or_hex).address)
        raise InvalidInput(f"{name_or_hex!r} is neither an address (40 hex) nor an account name")


def resolve_credentials(
    network: Path | None, layout: NetworkLayout | None, identity: str | None
) -> Credentials | None:
    """``--as``: a directory holding a ``client.json``, or an account of the network (default:
    the network's first account); None without either (a plain-HTTP node)."""
    if identity is not None and (Path(identity) / "client.json").is_file():
        return Credentials.load(Path(identity))
    if network is None or layout is None:
        if identity is not None:
            raise InvalidInput(
                f"--as {identity}: no client.json there; name an account with --network"
            )
        return None
    if identity is None:
        if not layout.accounts:
            return None
        identity = layout.accounts[0].name
    return Credentials.for_account(network, layout.account(identity).name)


def resolve_target(
    network: Path | None,
    url: str | None,
    genesis: Path | None,
    identity: str | None = None,
    sign_as: str | None = None,
) -> Target:
    layout = None
    if network is not None:
        layout = load_layout(network)
        if genesis is None:
            genesis = network / layout.genesis_file
        if url is None:
            if not layout.nodes:
                raise InvalidInput(f"{network} has no nodes")
            url = layout.nodes[0].api_url
    if url is None:
        raise InvalidInput("say which node: --network DIR or --url URL")
    if genesis is None:
        raise InvalidInput(
            "with --url, give --genesis FILE too: proofs are verified against the genesis you trust"
        )
    if sign_as is None:
        credentials = resolve_credentials(network, layout, identity)
        return Target(url, genesis, layout, network, credentials=credentials)
    if identity is not None:
        raise InvalidInput("authenticate either with --as (a certificate) or with --sign-as")
    target = Target(url, genesis, layout, network)
    target.request_signer = target.key(sign_as)
    target.roots_file = consortium_roots(network)
    return target


def consortium_roots(network: Path | None) -> Path:
    """The consortium's organization roots that ``jinqiao init`` wrote beside every client
    certificate: what authenticates the node when the client presents no certificate."""
    clients = sorted((network / "clients").glob("*/roots.pem")) if network is not None else []
    if not clients:
        raise InvalidInput(
            "--sign-as needs --network DIR: its clients/*/roots.pem authenticate the node"
        )
    return clients[0]


F = TypeVar("F", bound=Callable[..., Any])

NetworkOption = Annotated[
    Path | None, typer.Option("--network", "-n", help="Network directory made by `jinqiao init`.")
]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Node API URL (default: the network's first node).")
]
GenesisOption = Annotated[
    Path | None, typer.Option("--genesis", help="Genesis file to verify proofs against.")
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="JINQIAO_AS",
        help="Who the requests authenticate as: an account of the network (its client "
        "certificate from `jinqiao init`) or a directory with a client.json. Default: the "
        "network's first account.",
    ),
]
SignAsOption = Annotated[
    str | None,
    typer.Option(
        "--sign-as",
        envvar="JINQIAO_SIGN_AS",
        help="Authenticate by signing every request with this account's key (RFC 9421) instead "
        "of presenting a client certificate: an account of the network or a key file.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SuiteOption = Annotated[
    str,
    typer.Option(
        "--suite",
        help="Crypto suite: ed25519-sha256 (default) or sm2-sm3; a network's is in genesis.",
    ),
]
OutputOption = Annotated[Path | None, typer.Option(help="Also write the JSON result here.")]

_TARGET_OPTIONS = (
    ("network", NetworkOption, None),
    ("url", UrlOption, None),
    ("genesis", GenesisOption, None),
    ("identity", AsOption, None),
    ("sign_as", SignAsOption, None),
)


def with_options(
    command: F,
    parameter: str,
    options: Sequence[tuple[str, Any, Any]],
    build: Callable[[dict[str, Any]], Any],
) -> F:
    """Declare ``options`` (name, annotated type, default) once for many commands: the command
    takes the parameter ``parameter`` instead, made by ``build`` from the options' values.

    Typer reads a command's options from its signature, so the wrapper shows Typer the command's
    own parameters without ``parameter``, plus the options (keyword-only, at the end)."""
    signature = inspect.signature(command, eval_str=True)
    own = [value for name, value in signature.parameters.items() if name != parameter]
    if len(own) == len(signature.parameters):
        raise TypeError(f"{command.__name__} must take a parameter `{parameter}`")
    shown_options = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in options
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name, default) for name, _, default in options}
        return command(*args, **{parameter: build(values)}, **kwargs)

    shown = signature.replace(parameters=[*own, *shown_options])
    wrapper.__signature__ = shown  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{value.name: value.annotation for value in shown.parameters.values()},
        "return": signature.return_annotation,
    }
    return wrapper  # type: ignore[return-value]


WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait/--no-wait",
        help="Wait for the commit (default), or return once a node admitted the transaction.",
    ),
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        help="Seconds to wait for the commit before reporting pending (exit 4).",
    ),
]
_SUBMIT_OPTIONS = (
    *_TARGET_OPTIONS,
    ("wait", WaitOption, True),
    ("timeout", TimeoutOption, DEFAULT_COMMIT_TIMEOUT_S),
)


def _target_of(values: dict[str, Any]) -> Target:
    return resolve_target(
        values["network"], values["url"], values["genesis"], values["identity"], values["sign_as"]
    )


def with_submit_target(command: F) -> F:
    """``with_target`` plus ``--wait/--no-wait`` and ``--timeout``, for commands that send a
    transaction (their ``Target`` carries the choice to its client)."""

    def build(values: dict[str, Any]) -> Target:
        target = _target_of(values)
        target.wait = values["wait"]
        target.timeout_s = values["timeout"]
        return target

    return with_options(command, "target", _SUBMIT_OPTIONS, build)


def with_target(command: F) -> F:
    """Declare ``--network``, ``--url`` and ``--genesis`` once for every command that talks to a
    node: the command takes a parameter ``target: Target`` instead, resolved from them."""
    return with_options(
        command,
        "target",
        _TARGET_OPTIONS,
        lambda values: resolve_target(
            values["network"],
            values["url"],
            values["genesis"],
            values["identity"],
            values["sign_as"],
        ),
    )


def guarded(function: F) -> F:
    """Turn every expected failure into one line on stderr and exit code 1 (3 for a transaction
    refused at admission, 4 for one whose outcome is unknown)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except TransactionRefused as refused:
            fail(f"refused {refused.code}: {refused.message} (nothing changed)", EXIT_REFUSED)
        except TransactionPending as pending:
            fail(
                f"pending — outcome unknown: {pending.message}; complete it with "
                f"`jinqiao tx resend {pending.transaction_hash}`",
                EXIT_PENDING,
            )
        except ClientError as error:
            fail(f"{error.code}: {error.message}")
        except JinqiaoError as error:
            fail(
                error.message
                if error.code in ("invalid_input", "error")
                else f"{error.code}: {error.message}"
            )
        except OSError as error:
            fail(f"{error.strerror or error}: {getattr(error, 'filename', '') or ''}")

    return wrapper  # type: ignore[return-value]


def report(result: TransactionResult, json_output: bool, **extra: Any) -> None:
    if json_output:
        emit_json(
            {
                "hash": result.transaction_hash,
                "height": result.height,
                "index": result.index,
                "status": "ok" if result.ok else "rejected",
                "code": result.code,
                "message": result.receipt.message,
                "result": decoded_result(result.receipt.result),
                "result_hex": result.receipt.result.hex(),
                "verified": result.verified,
                **extra,
            }
        )
    else:
        verdict = (
            "[green]ok[/]"
            if result.ok
            else f"[red]rejected[/] {result.code}: {result.receipt.message}"
        )
        console.print(
            f"{verdict}  tx {result.transaction_hash} in block {result.height}"
            f"{' (proof verified)' if result.verified else ''}"
        )
    if not result.ok:
        raise typer.Exit(EXIT_REJECTED)


def decoded_result(data: bytes) -> object:
    """A receipt's result (canonical msgpack) as JSON: ``None`` for an empty one, an integer,
    string or boolean as itself, bytes as hex, a struct as the list of its fields in declaration
    order (structs are encoded as arrays); ``None`` if the bytes are not msgpack (``result_hex``
    beside it keeps them)."""
    if not data:
        return None
    try:
        return json_value(msgspec.msgpack.decode(data))
    except msgspec.DecodeError:
        return None


def json_value(value: object) -> object:
    """A decoded value as JSON: a struct's fields by name (a tagged one with its ``kind``),
    bytes as hex, tuples as lists, map keys as strings."""
    if isinstance(value, msgspec.Struct):
        fields = {name: json_value(getattr(value, name)) for name in value.__struct_fields__}
        tag = value.__struct_config__.tag
        return {"kind": tag, **fields} if isinstance(tag, str) else fields
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(json_value(key)): json_value(item) for key, item in value.items()}
    return value


KeyOption = Annotated[
    str, typer.Option("--key", "-k", help="Signer: account name in the network, or a key file.")
]


def send(
    target: Target, json_output: bool, action: Callable[[Target, Any], TransactionResult]
) -> None:
    """Send one transaction with the target's client and report its outcome."""
    with target.client() as client:
        report_outcome(lambda: action(target, client), json_output, waited=target.wait)


def report_outcome(
    attempt: Callable[[], TransactionResult], json_output: bool, *, waited: bool = True
) -> None:
    """Run ``attempt`` and report which of the four outcomes it had, with its exit code: 0 ok,
    ``EXIT_REJECTED``, ``EXIT_REFUSED``, ``EXIT_PENDING`` (0 for an admitted ``--no-wait``)."""
    try:
        result = attempt()
    except TransactionRefused as refused:
        _emit_status(
            json_output,
            {"hash": refused.transaction_hash, "status": "refused", "code": refused.code},
            f"[red]refused[/] {refused.code}: {refused.message} (nothing changed)",
            EXIT_REFUSED,
            message=refused.message,
        )
    except TransactionPending as pending:
        admitted_only = pending.admitted and not waited
        identity = pending.transaction_hash
        _emit_status(
            json_output,
            {"hash": identity, "status": "admitted" if admitted_only else "pending"},
            f"admitted  tx {identity} (not waited for; `jinqiao query tx {identity}`)"
            if admitted_only
            else f"[yellow]pending — outcome unknown[/]  tx {identity}: {pending.reason}\n"
            f"check with `jinqiao query tx {identity}`; complete it with "
            f"`jinqiao tx resend {identity}` (the same bytes: it cannot commit twice)",
            0 if admitted_only else EXIT_PENDING,
            message=pending.reason,
        )
    report(result, json_output)


def _emit_status(
    json_output: bool, view: dict[str, Any], line: str, exit_code: int, *, message: str
) -> NoReturn:
    if json_output:
        emit_json({**view, "message": message})
    elif exit_code == 0:
        console.print(line, highlight=False)
    else:
        errors.print(line, highlight=False)
    raise typer.Exit(exit_code)


CycleArgument = Annotated[int, typer.Argument(min=1, help="Cycle id.")]
AmountArgument = Annotated[int, typer.Argument(min=1, help="Amount in minor units (fen).")]
PaymentIdArgument = Annotated[str, typer.Argument(help="Payment id.")]
