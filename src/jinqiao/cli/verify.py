"""``jinqiao verify FILE --genesis GENESIS``: check a saved API answer (docs/proofs.md §11), or a
report file with its proof bundle (§12), offline, with nothing but the genesis file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

import typer

from jinqiao.cli.common import JsonOption, guarded
from jinqiao.client.reports import sidecar_of, verify_report_file
from jinqiao.client.saved import (
    MAX_SAVED_ANSWER_BYTES,
    SavedAnswer,
    SavedAnswerInvalid,
    load_saved,
    verify_saved,
)
from jinqiao.core.genesis import load_genesis
from jinqiao.terminal import console, emit_json


@guarded
def verify(
    file: Annotated[Path, typer.Argument(help="A saved answer (jinqiao query save, --save).")],
    genesis: Annotated[
        Path, typer.Option("--genesis", help="The network's genesis file: the only trust.")
    ],
    proofs: Annotated[
        Path | None,
        typer.Option(
            "--proofs",
            help="FILE is a report (statement, pacs.009, pacs.008) and this its proof bundle "
            "(default: FILE.proofs.json when it exists).",
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path",
            help="FILE is a bare GET answer body (as curl saved it) of this request path, "
            "query string included, instead of a saved answer.",
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Check a saved answer, or a report file with its proof bundle, against a genesis file,
    offline: exit 0 and one line saying what it proves, or exit 1 with the reason it does not
    check."""
    trusted = load_genesis(genesis.read_bytes())
    if proofs is not None or (path is None and sidecar_of(file).exists()):
        verified = verify_report_file(trusted, file, proofs)
    else:
        data = file.read_bytes()
        saved = load_saved(data) if path is None else bare_answer(data, path)
        verified = verify_saved(trusted, saved)
    if json_output:
        emit_json({"verified": True, "summary": verified.summary, "height": verified.height})
    else:
        console.print(f"verified: {verified.summary}", highlight=False)


def bare_answer(data: bytes, request: str) -> SavedAnswer:
    """A saved answer from a bare answer body and the GET request path it answered; a body
    with ``code`` ``not_found`` is a 404."""
    if len(data) > MAX_SAVED_ANSWER_BYTES:
        raise SavedAnswerInvalid(f"an answer is at most {MAX_SAVED_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SavedAnswerInvalid(f"the answer is not JSON: {exc}") from None
    parts = urlsplit(request)
    if parts.path.startswith("/v1/query/"):
        raise SavedAnswerInvalid(
            "a query's answer needs its arguments: save it with `jinqiao query save`"
        )
    status = 404 if isinstance(answer, dict) and answer.get("code") == "not_found" else 200
    document = {
        "method": "GET",
        "path": parts.path,
        "params": dict(parse_qsl(parts.query)),
        "status": status,
        "answer": answer,
    }
    return load_saved(json.dumps(document).encode())
