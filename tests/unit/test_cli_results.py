"""The CLI's ``--json`` views of receipt results and the fee-schedule file governance takes:
decoded values (never msgpack hex), and bad files refused with a clear message."""

from __future__ import annotations

import json

import pytest

from jinqiao.apps.governance import SetParameter
from jinqiao.apps.payments.config import china_2016_config_rules, load_fee_schedule
from jinqiao.apps.payments.model import FeeRate
from jinqiao.cli.common import decoded_result, json_value
from jinqiao.core.codec import encode
from jinqiao.core.errors import InvalidInput


def test_a_result_is_decoded_not_hex() -> None:
    assert decoded_result(b"") is None
    assert decoded_result(encode(7)) == 7
    assert decoded_result(encode("cycle-1")) == "cycle-1"
    assert decoded_result(encode(b"\x01\xff")) == "01ff"
    # A struct is an array of its fields on the wire: decoded as that list, bytes as hex.
    assert decoded_result(encode(FeeRate(3500, 0, 1300))) == [3500, 0, 1300]
    assert decoded_result(b"\xc1") is None  # not msgpack (0xc1 is never used)


def test_json_value_names_a_structs_fields_and_its_kind() -> None:
    assert json_value(SetParameter("valid_until_window_blocks", 500)) == {
        "kind": "set_parameter",
        "name": "valid_until_window_blocks",
        "value": 500,
    }
    assert json_value({b"\x00": (b"\x01", 2)}) == {"00": ["01", 2]}


def test_a_fee_schedule_file_loads_into_checked_rules() -> None:
    rules = china_2016_config_rules()
    currency, loaded = load_fee_schedule(json.dumps({"currency": "CNY", "rules": rules}).encode())
    assert currency == "CNY" and len(loaded) == len(rules)
    assert loaded[0].issuer_fee.rate_ppm == rules[0]["issuer_fee"]["rate_ppm"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not json", "fee schedule:"),
        (b'{"currency": "CNY"}', "fee schedule:"),
        (b'{"currency": "CNY", "rules": [], "extra": 1}', "fee schedule:"),
        (
            json.dumps({"currency": "CNY", "rules": china_2016_config_rules()[:1] * 2}).encode(),
            "fee schedule of 'CNY'",
        ),
    ],
)
def test_a_bad_fee_schedule_file_is_refused(document: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_fee_schedule(document)
