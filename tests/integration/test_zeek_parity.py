"""The event store against Zeek's own logs: every shared regression trace is ingested and its
conn, dns and http records paired with the ones Zeek wrote (tests/zeekparity.py).

Goals (issue 11): at least 95% of Zeek's records matched on their key fields, at least 95%
agreement on the fields rules lean on, at most 5% of ours that Zeek does not write, and no trace
that ingest refuses. ``bench/zeek_parity.py --diffs FIELD`` shows what disagrees.
"""
from __future__ import annotations

import pytest

from tests.zeekparity import AGREE, CORPUS, compare, manifest, summary

GOAL = 0.95
EXTRA = 0.05


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    assert (CORPUS / "manifest.json").is_file(), f"the Zeek reference traces are missing: {CORPUS}"
    return compare(tmp_path_factory.mktemp("zeek"))


def test_every_trace_is_ingested(parity):
    _tallies, failures = parity
    assert failures == {}, f"ingest refused {len(failures)} of {len(manifest())} traces: {failures}"


@pytest.mark.parametrize("log", ["conn", "dns", "http"])
def test_zeeks_records_are_matched_and_few_are_ours_alone(parity, log):
    t = parity[0][log]
    assert t.zeek > 0, f"no {log} records in the reference"
    assert t.matched / t.zeek >= GOAL, "\n".join(summary(parity[0])) + f"\nmissed: {t.misses[:20]}"
    assert t.extra / t.ours <= EXTRA, "\n".join(summary(parity[0])) + f"\nours alone: {t.extras[:20]}"


@pytest.mark.parametrize("log,field", [(log, f) for log, fields in AGREE.items() for f in fields])
def test_paired_records_agree(parity, log, field):
    t = parity[0][log]
    rate = t.rate(field)
    assert rate is not None, f"{log}.{field} was never compared"
    diffs = [d for d in t.diffs if d[1] == field][:15]
    assert rate >= GOAL, f"{log}.{field}: {rate:.1%} agree\n" + "\n".join(map(str, diffs))
