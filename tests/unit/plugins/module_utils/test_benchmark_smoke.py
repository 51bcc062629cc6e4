"""The benchmark's rule-core part at small sizes, as part of the unit suite (no ansible-playbook run).

The full benchmark, including validate.yml runs and 10,000 hosts:
    python benchmarks/bench_validator.py --sizes 100,1000,10000
"""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_validator", os.path.join(ROOT, "benchmarks", "bench_validator.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_inventories_are_valid_and_spread():
    bench = load_benchmark()
    for size in (100, 1000):
        inventory = bench.generate(size)
        assert sum(len(members) for tier, members in inventory["groups"].items() if tier != "dcs") == size
        _seconds, report = bench.time_core(inventory, runs=1)
        assert report["ok"] is True  # warnings allowed: thousands of databases share the primary's rack


def test_core_meets_targets_at_small_sizes(capsys):
    bench = load_benchmark()
    assert bench.main(["--sizes", "100,1000", "--no-playbook", "--check", "--runs", "3"]) == 0
    assert "target: core < 1 s for 10,000 hosts" in capsys.readouterr().out
