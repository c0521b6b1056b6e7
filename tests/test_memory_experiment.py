"""The memory experiment on a tiny grid through the harness: tape lengths and bytes are exact
counts, peaks come from tracemalloc (stable enough for generous inequalities); no test looks
at a clock."""

import json

import numpy as np
import pandas as pd
import pytest
from admodes.experiments import memory

from admodes.harness import run
from admodes.harness.cli import findings_of
from admodes.harness.text import num

LENGTHS, SIZE, NS = [8, 40, 400], 16, [8, 32, 128]  # chain lengths: multiples of 4
TINY = {"chain_lengths": LENGTHS, "vector_size": SIZE, "jacobian_sizes": NS, "replicates": 2,
        "samples": 2, "warmup": 0, "min_sample_s": 1e-5, "draws": 200}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    outcome = run(memory.EXPERIMENT, "quick", tmp_path_factory.mktemp("runs"), overrides=TINY,
                  show_progress=False)
    rows = pd.read_csv(outcome.folder / "results.csv")
    estimates = pd.read_csv(outcome.folder / "estimates.csv")
    return outcome, rows, estimates


def counted(rows, variant):
    """The rows that carry the counts (noted once, on the first replicate), one per cell."""
    picked = rows[(rows.variant == variant) & rows.tape_length.notna()]
    return picked.drop_duplicates("cell").sort_values(["chain_length", "n_inputs"])


def estimate(estimates, quantity, **where):
    rows = estimates[estimates.quantity == quantity]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, (quantity, where)
    return rows.iloc[0]


def test_a_complete_run_with_every_file_and_a_manifest(tiny):
    outcome, rows, _ = tiny
    manifest = json.loads((outcome.folder / "manifest.json").read_text())
    assert outcome.complete and manifest["complete"] is True
    assert manifest["files"] == sorted(["results.csv", "estimates.csv", "summary.md",
                                        "chain.png", "jacobian_memory.png"])
    assert manifest["cells"] == manifest["cells_measured"] == len(LENGTHS) + len(NS)
    assert manifest["replicates"] == 2 and manifest["config"]["vector_size"] == SIZE
    assert all("preset quick" in f["caption"] and "2 replicates" in f["caption"]
               for f in manifest["figures"])
    assert set(rows.replicate) == {0, 1} and rows.wall_s.dropna().gt(0).all()


def test_the_tape_holds_the_input_every_op_and_the_sum_and_forward_mode_none(tiny):
    _, rows, _ = tiny
    reverse, forward = counted(rows, "reverse"), counted(rows, "forward")
    assert reverse.chain_length.tolist() == LENGTHS
    np.testing.assert_array_equal(reverse.tape_length, reverse.chain_length + 2)
    np.testing.assert_array_equal(reverse.entries, reverse.chain_length + 2)
    np.testing.assert_array_equal(reverse.ops, reverse.chain_length + 1)
    assert (reverse.recordings == 1).all() and (reverse.sweeps == 1).all()
    assert (forward.tape_length == 0).all() and (forward.tape_bytes == 0).all()
    assert (forward.recordings == 0).all() and (forward.sweeps == 1).all()
    np.testing.assert_array_equal(forward.ops, forward.chain_length + 1)


def test_kept_and_needed_bytes_match_a_count_by_hand(tiny):
    _, rows, estimates = tiny
    reverse = counted(rows, "reverse")
    L, value = reverse.chain_length.to_numpy(), 8 * SIZE  # bytes of one stored vector
    # kept: x and the L outputs, the constants 0.9 and 0.1 and the sum (8 B each). Read: sin's
    # VJP reads its input (x, then each tanh output, which tanh's VJP reads too), multiply's
    # reads the constant 0.9; the adds and the sum read only shapes.
    np.testing.assert_array_equal(reverse.kept_bytes, (L + 1) * value + 24)
    np.testing.assert_array_equal(reverse.needed_bytes, (L // 4 + 1) * value + 8)
    np.testing.assert_array_equal(reverse.tape_bytes, reverse.kept_bytes)
    assert (reverse.kept_bytes >= reverse.needed_bytes).all() and (reverse.needed_bytes > 0).all()
    assert (reverse.python_bytes_per_entry > 0).all()
    per_op = {m: estimate(estimates, "bytes_per_op", measure=m).value
              for m in ("kept_bytes", "needed_bytes")}
    assert per_op == pytest.approx({"kept_bytes": value, "needed_bytes": value / 4})
    top = LENGTHS[-1]
    saving = estimate(estimates, "saving_fraction", of="residuals").value
    assert saving == pytest.approx(1 - ((top // 4 + 1) * value + 8) / ((top + 1) * value + 24))


def test_reverse_peak_grows_with_the_chain_and_forward_peak_stays_flat(tiny):
    _, _, estimates = tiny
    slope = {v: estimate(estimates, "slope", measure="peak_bytes", variant=v).value
             for v in ("reverse", "forward")}
    assert slope["reverse"] > 0.8 and abs(slope["forward"]) < 0.2
    assert estimate(estimates, "slope", measure="tape_length", variant="reverse").value > 0.95


def test_vectorized_forward_peak_grows_faster_with_n_than_reverse(tiny):
    _, rows, estimates = tiny
    peak = {(v, n): estimate(estimates, "peak_bytes", variant=v, n_inputs=n).value
            for v in memory.THEORY_N for n in (NS[0], NS[-1])}
    growth = {v: peak[v, NS[-1]] / peak[v, NS[0]] for v in memory.THEORY_N}
    # an n x n tangent batch against a tape of n-vectors: 16 times n, far apart in growth
    assert growth["jacfwd vectorized"] > 5 * growth["jacrev vectorized"]
    assert growth["jacfwd vectorized"] > 3 * growth["jacfwd chunked"]
    assert peak["jacfwd chunked", NS[-1]] < peak["jacfwd vectorized", NS[-1]] / 4
    slope = {v: estimate(estimates, "slope", measure="peak_bytes", variant=v).value
             for v in memory.THEORY_N}
    assert slope["jacfwd vectorized"] > slope["jacrev vectorized"] + 0.5
    sweeps = counted(rows, "jacfwd chunked").sweeps.tolist()
    assert sweeps == [-(-n // memory.COMMON["chunk_size"]) for n in NS]  # ceil(n / k)
    assert counted(rows, "jacfwd looped").sweeps.tolist() == NS


def test_peaks_are_measured_on_every_replicate_and_intervals_hold_the_values(tiny):
    _, rows, estimates = tiny
    peaks = rows.dropna(subset=["peak_bytes"])
    assert peaks.groupby(["cell", "variant"]).replicate.nunique().eq(2).all()
    finite = estimates.dropna(subset=["value", "ci_low", "ci_high"])
    assert len(finite) > 100
    assert (finite.ci_low <= finite.value).all() and (finite.value <= finite.ci_high).all()
    exact = estimate(estimates, "tape_length", variant="reverse", chain_length=LENGTHS[-1])
    assert exact.ci_low == exact.value == exact.ci_high == LENGTHS[-1] + 2
    assert estimate(estimates, "peak_bytes", variant="reverse", chain_length=8)["n"] == 2


def test_the_summary_holds_the_findings_and_the_tables(tiny):
    outcome, _, estimates = tiny
    summary = (outcome.folder / "summary.md").read_text()
    sentences = findings_of(memory.EXPERIMENT, outcome.folder)
    assert len(sentences) == 4 and all(s in summary for s in sentences)
    tape = estimate(estimates, "slope", measure="tape_length", variant="reverse").value
    assert f"slope {num(tape)} and" in sentences[0] and "kB" in sentences[3]
    assert "| chain_length |" in summary and summary.count("| n_inputs |") == 2
    assert "![Figure 2](jacobian_memory.png)" in summary
