"""A report's bundle proves every key its file was built from — one per statement entry, so a
busy cycle's statement reads thousands — while a query answer proves at most
``MAX_QUERY_READS``: the same encoding, decoded under the report's own limit (docs/proofs.md §12).
"""

from __future__ import annotations

import pytest

from jinqiao.client.reports import _decode_hex
from jinqiao.core.codec import encode
from jinqiao.core.limits import MAX_QUERY_READS, MAX_REPORT_PROOF_BYTES, MAX_STATE_READS_PROOF_BYTES
from jinqiao.core.proofs import ReportReadsProof, StateRead, StateReadsProof
from jinqiao.verify import VerificationError
from tests.helpers.crosschain import CertifiedChain, chain_genesis


def test_a_report_bundle_holds_more_reads_than_a_query_answer() -> None:
    chain = CertifiedChain(chain_genesis("report-reads", "report"))
    chain.execute([])
    header, certificate = chain.headers[chain.height]
    key = b"token/absent"
    read = StateRead(key, None, chain.tree.prove(chain.root, key))
    many = StateReadsProof(header, certificate, (read,) * (MAX_QUERY_READS + 44))
    encoded = encode(many).hex()
    with pytest.raises(VerificationError, match="does not decode"):
        _decode_hex(encoded, StateReadsProof, MAX_STATE_READS_PROOF_BYTES)
    decoded = _decode_hex(encoded, ReportReadsProof, MAX_REPORT_PROOF_BYTES).as_reads_proof()
    assert decoded == many
