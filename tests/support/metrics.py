"""Helpers for the metrics tests: scrape ``/metrics`` as Prometheus does, and read it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "metrics-test-token-" + "q7Zr4Lw9Xk2Pm8Vn5Tb3Hc6Jd1Fs0Ga"


def bearer(token: str = METRICS_TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def scrape_text(client, token: str = METRICS_TOKEN) -> str:
    answer = client.get("/metrics", headers=bearer(token))
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def samples(text: str) -> list:
    """Every sample of the exposition text (name, labels, value)."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(found: list, name: str, **labels) -> float:
    """The sample ``name`` with exactly ``labels``; 0 if absent (a counter not yet moved)."""
    for sample in found:
        if sample.name == name and sample.labels == labels:
            return sample.value
    return 0.0


def label_values(found: list) -> set[tuple[str, str, str]]:
    """(metric, label name, label value) for every label of every sample."""
    return {(sample.name, label, text) for sample in found for label, text in sample.labels.items()}
