"""The examples a document marks for its tests: a fenced code block whose info string carries
``proofs-example:NAME`` (```` ```text proofs-example:vote ````), or a Markdown table right after
an HTML comment ``<!-- proofs-example:NAME -->``. Tests read these, so what they check is what
the document says."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROOFS_DOC = ROOT / "docs" / "proofs.md"

_FENCE = re.compile(r"^```[^\n]*\bproofs-example:([a-z0-9-]+)[^\n]*\n(.*?)^```", re.M | re.S)
_TABLE = re.compile(r"^<!-- proofs-example:([a-z0-9-]+) -->\n((?:\|[^\n]*\n)+)", re.M)


def blocks(path: Path = PROOFS_DOC) -> dict[str, str]:
    """Every marked fenced block of the document, by name."""
    text = path.read_text()
    found: dict[str, str] = {}
    for match in _FENCE.finditer(text):
        name = match.group(1)
        if name in found:
            raise ValueError(f"{path.name}: two examples named {name!r}")
        found[name] = match.group(2)
    return found


def block(name: str, path: Path = PROOFS_DOC) -> str:
    found = blocks(path)
    if name not in found:
        raise KeyError(f"{path.name} has no example {name!r}; it has {sorted(found)}")
    return found[name]


def table(name: str, path: Path = PROOFS_DOC) -> list[list[str]]:
    """The rows (cells stripped, header and rule dropped) of the marked table ``name``."""
    for match in _TABLE.finditer(path.read_text()):
        if match.group(1) == name:
            lines = match.group(2).splitlines()[2:]
            return [_cells(line) for line in lines]
    raise KeyError(f"{path.name} has no table {name!r}")


def _cells(line: str) -> list[str]:
    # A cell may contain an escaped pipe (\|); split on the others.
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [part.strip().replace("\\|", "|") for part in parts]


def code(cell: str) -> str:
    """The text of the first `code span` in a table cell."""
    match = re.search(r"`([^`]*)`", cell)
    if match is None:
        raise ValueError(f"no code span in {cell!r}")
    return match.group(1)


def hex_bytes(text: str) -> bytes:
    """Hex written for reading: spaces and line breaks are ignored, ``#`` starts a comment."""
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    return bytes.fromhex("".join("".join(lines).split()))


def definitions(text: str) -> dict[str, tuple[str, str]]:
    """``Name = [fields...]`` (or ``{...}``) definitions, possibly over several lines, as
    name -> (bracket, the text between the brackets). ``#`` comments are dropped."""
    joined = " ".join(line.split("#", 1)[0].strip() for line in text.splitlines())
    found: dict[str, tuple[str, str]] = {}
    for match in re.finditer(r"(\w+)\s*=\s*([\[{])", joined):
        opening = match.group(2)
        closing = "]" if opening == "[" else "}"
        depth, index = 0, match.end(2) - 1
        while True:
            char = joined[index]
            if char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        if closing != joined[index]:
            raise ValueError(f"unbalanced definition of {match.group(1)}")
        found[match.group(1)] = (opening, joined[match.end(2) : index].strip())
    return found


def split_fields(inner: str) -> list[str]:
    """Split a definition's body on the commas at depth 0."""
    parts, depth, current = [], 0, ""
    for char in inner:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def validator_change_rows() -> dict[int, dict[str, str]]:
    """The table of §3.3, by height offset from the deciding block ``d``."""
    rows = {}
    for line in block("validator-change").splitlines()[1:]:
        match = re.fullmatch(r"d(?: \+ (\d))?\s+(yes|no)\s+(\w+)\s+(\w+)\s+(.+)", line.strip())
        if match is None:
            raise ValueError(f"unreadable row of the validator-change table: {line!r}")
        rows[int(match.group(1) or 0)] = {
            "decided": match.group(2),
            "validators_hash": match.group(3),
            "next_validators_hash": match.group(4),
            "state": match.group(5),
        }
    return rows
