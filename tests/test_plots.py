"""Accuracy against cost: the Pareto front and its plot."""

import numpy as np

from linpot.analysis.plots import cost_accuracy_plot, pareto_front


def test_pareto_front_keeps_exactly_the_non_dominated_points():
    costs = [10, 20, 30, 40, 5, 20, 50]
    errors = [3.0, 2.0, 2.5, 1.0, 4.0, 2.0, 1.0]
    # 2 (30, 2.5) is beaten by 1 (20, 2.0); 5 is identical to 1, so both are kept; 6 (50, 1.0) is beaten by 3 (40, 1.0)
    assert pareto_front(costs, errors).tolist() == [4, 0, 1, 5, 3]
    # brute force on random points: kept <=> nobody is as cheap or cheaper and as accurate or more, better in one
    rng = np.random.default_rng(0)
    c, e = rng.integers(0, 20, 60).astype(float), rng.integers(0, 20, 60).astype(float)
    front = pareto_front(c, e).tolist()
    assert front == sorted(front, key=lambda k: (c[k], e[k])) and len(set(front)) == len(front)
    expected = {k for k in range(60) if not np.any((c <= c[k]) & (e <= e[k]) & ((c < c[k]) | (e < e[k])))}
    assert set(front) == expected


def test_cost_accuracy_plot_writes_a_png(tmp_path):
    path = tmp_path / "front.png"
    cost_accuracy_plot(["pair", "invariants", "MTP"], [20.0, 127.0, 84.0], [0.67, 0.32, 0.40], [0.0325, 0.0110, 0.0111],
                       path, title="Cu")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp*"))
