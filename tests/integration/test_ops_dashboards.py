"""The operators' dashboard (ops/grafana) and alert rules (ops/prometheus) name only metrics a
real node exposes: a node process is started and its ``/metrics`` read; every expression is
parsed by Prometheus's own PromQL parser (promql-parser), and every metric it selects must be
there. The rules' file has the shape Prometheus loads (groups of rules, each with a name, an
expression, a ``for`` duration and a severity)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import promql_parser
import pytest
import yaml

from tests.helpers.doc_examples import ROOT
from tests.helpers.process import NodeProcess, configured_node

pytestmark = pytest.mark.e2e

DASHBOARD = ROOT / "ops" / "grafana" / "jinqiao-node.json"
ALERT_RULES = ROOT / "ops" / "prometheus" / "jinqiao-alerts.yml"
PROMETHEUS_OWN = {"up"}
"""Series Prometheus makes itself for every scrape target, not the node."""
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$instance": ".*"}
SEVERITIES = {"warning", "critical"}
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """The metric names in a running node's ``/metrics``: every sample's name, and for each
    family its declared name (a labelled counter that never counted has no sample yet)."""
    node: NodeProcess = configured_node(tmp_path_factory.mktemp("metrics")).start()
    try:
        text = node.http.get(f"{node.url}/metrics").text
    finally:
        assert node.stop() == 0, node.log()
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "counter":
                names.add(name.removesuffix("_total") + "_total")
            if kind == "histogram":
                names.update(name + suffix for suffix in HISTOGRAM_SUFFIXES)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    yield names


def selected_metrics(expression: str) -> set[str]:
    """The metric names an expression selects, from its parsed syntax tree (a ``ValueError``
    when it does not parse)."""
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next(
                (m.value for m in node.matchers.matchers if m.name == "__name__"), None
            )
            assert name, f"a selector without a metric name in {expression!r}"
            names.add(name)
        return True

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found = re.fullmatch(r"label_values\((\w+), *\w+\)", query["query"])
            assert found, f"unexpected variable query {query['query']!r}"
            expressions.append(found.group(1))
    return expressions


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERT_RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_dashboard_metric_exists_on_a_real_node(exposed: set[str]) -> None:
    expressions = dashboard_expressions()
    assert len(expressions) >= 15
    named = set().union(*(selected_metrics(expression) for expression in expressions))
    assert not named - exposed, f"the dashboard names metrics the node lacks: {named - exposed}"
    # What the issue asks the dashboard to show is there.
    for wanted in (
        "jinqiao_height",
        "jinqiao_consensus_missing_votes_total",
        "jinqiao_mempool_transactions",
        "jinqiao_block_commit_seconds_bucket",
    ):
        assert wanted in named


def test_the_alert_rules_parse_and_name_real_metrics(exposed: set[str]) -> None:
    document = yaml.safe_load(ALERT_RULES.read_text())
    assert set(document) == {"groups"}
    group_names = [group["name"] for group in document["groups"]]
    assert len(group_names) == len(set(group_names))
    rules = alert_rules()
    alerts = [rule["alert"] for rule in rules]
    assert len(alerts) == len(set(alerts))
    named: set[str] = set()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
        assert rule["labels"]["severity"] in SEVERITIES
        assert rule["annotations"]["summary"]
        if "for" in rule:
            assert DURATION.match(rule["for"]), rule["for"]
        named |= selected_metrics(rule["expr"])
    missing = named - exposed - PROMETHEUS_OWN
    assert not missing, f"the alert rules name metrics the node lacks: {missing}"
    # The four situations the issue names each have a rule.
    for wanted in (
        "jinqiao_height",  # height stalls
        "jinqiao_consensus_missing_votes_total",  # missing votes
        "jinqiao_mempool_transactions",  # mempool saturation
        "jinqiao_block_commit_seconds_bucket",  # commit latency
    ):
        assert wanted in named


def test_a_wrong_metric_name_is_caught(exposed: set[str]) -> None:
    """The check can fail: a misspelt metric and an unparsable expression are both caught."""
    assert selected_metrics("rate(jinqiao_blocks_comitted_total[5m])") - exposed == {
        "jinqiao_blocks_comitted_total"
    }
    with pytest.raises(ValueError):
        selected_metrics("rate(jinqiao_height[5m]")


def test_the_files_are_where_the_docs_say() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    for path in (DASHBOARD, ALERT_RULES):
        assert str(path.relative_to(ROOT)) in operations


def test_the_node_exposes_the_standard_process_metrics(exposed: set[str]) -> None:
    # ProcessCollector on the node's own registry (jinqiao.node.metrics): CPU, memory, files.
    assert {
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "python_info",
    } <= exposed
