"""Epoch time of the three implementations, and a full-size accuracy check.

    python tools/bench.py               # speed: epoch times, ratios, matmul rate  (make bench)
    python tools/bench.py --accuracy    # accuracy: full Fashion-MNIST, each tool  (make bench-accuracy)
    python tools/bench.py --quick       # a small, fast run of the speed mode (used by the tests)

**Speed.** For batch sizes 64, 128, 512 and 128 or 512 hidden units, each tool
trains a 784-H-10 network with SGD on 60,000 x 784 float32 inputs (random
pixels: speed does not depend on the pictures). Each tool runs in its own
process, one after the other, so they do not compete for the cores, and the
tools are interleaved configuration by configuration, so that drift in the
machine's speed during the run hits all three alike. The first
epoch is a warm-up (it includes Keras's XLA compilation); the next ``--epochs``
(default 5) are timed. Epoch time = training only, as recorded by the same
training entry point notebook 07 uses (``utils.train.run``, which calls
``utils.reference.train``, ``utils.train.fit`` and ``utils.train.fit_keras``). It prints medians, spread
(min-max) and the ratio to PyTorch, and compares each implementation's FLOP rate
with the machine's float32 matrix-product rate measured in the same run.

**Accuracy.** Each tool trains the one-hidden-layer (784-256-10) and the deeper
(784-256-128-10) network on the full Fashion-MNIST (60,000 / 10,000; install it
with ``sudo apt-get install dataset-fashion-mnist``) from the same initial
weights and batches, and reports test accuracy and time.

Results go to ``results/bench/`` (CSV and PNG).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from utils.measure import epoch_flops, matmul_rate

TOOLS = ("numpy", "torch", "keras")
SPEED_CONFIGS = [(b, h) for h in (128, 512) for b in (64, 128, 512)]
ACCURACY_NETS = {"one hidden layer": [784, 256, 10], "deeper": [784, 256, 128, 10]}
ACCURACY_FLOORS = {"one hidden layer": 0.885, "deeper": 0.89}
ACCURACY_SETTINGS = dict(lr=0.1, batch_size=64, epochs=30, seed=0)


# --- worker: one tool, in its own process ------------------------------------------------


def _synthetic(n_train: int):
    import numpy as np

    from utils.data import Dataset

    rng = np.random.default_rng(0)
    return Dataset(rng.random((n_train, 784), dtype=np.float32), rng.integers(0, 10, n_train),
                   rng.random((1000, 784), dtype=np.float32), rng.integers(0, 10, 1000), "synthetic")


def _train(tool: str, sizes, ds, epochs: int, lr: float, batch_size: int, seed: int = 0):
    from utils import config, reference, train

    config.seed_everything(seed)
    return train.run(tool, reference.init_params(*sizes, seed=seed), ds, epochs, lr, batch_size, seed=seed)


def worker(tool: str, mode: str, epochs: int, n_train: int, configs) -> list[dict]:
    import numpy as np

    from utils import config  # noqa: F401  (quiet TensorFlow before it is imported)

    rows = []
    if mode == "speed":
        ds = _synthetic(n_train)
        for batch, hidden in configs:
            h = _train(tool, [784, hidden, 10], ds, epochs + 1, 0.01, batch)
            epoch_times = np.diff([0.0] + h.seconds)[1:]  # drop the warm-up epoch
            rows.append(dict(tool=tool, batch=batch, hidden=hidden, epochs=len(epoch_times),
                             median_s=float(np.median(epoch_times)), min_s=float(epoch_times.min()),
                             max_s=float(epoch_times.max())))
    else:
        from utils.data import load_fashion_mnist

        ds = load_fashion_mnist()
        for name, sizes in ACCURACY_NETS.items():
            h = _train(tool, sizes, ds, **ACCURACY_SETTINGS)
            n_test = len(ds.y_test)  # accuracies are counts of images: drop float32's last digits
            correct = round(h.test_acc[-1] * n_test)
            rows.append(dict(tool=tool, network=name, layers="-".join(map(str, sizes)),
                             test_correct=correct, test_acc=correct / n_test,
                             best_test_acc=max(h.test_acc),
                             train_acc=h.train_acc[-1], seconds=h.seconds[-1],
                             floor=ACCURACY_FLOORS[name]))
    return rows


# --- driver ------------------------------------------------------------------------------


def _run_worker(tool: str, mode: str, epochs: int, n_train: int, configs) -> list[dict]:
    spec = json.dumps({"tool": tool, "mode": mode, "epochs": epochs, "n_train": n_train, "configs": configs})
    out = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if out.returncode != 0:
        sys.exit(f"the {tool} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_tools(mode: str, epochs: int, n_train: int, configs) -> list[dict]:
    """Each tool in its own process, one process at a time. For speed, configuration
    by configuration (NumPy, PyTorch, Keras on one configuration, then the next), so
    that a machine whose speed drifts during the run affects the three tools alike."""
    rows = []
    groups = [[c] for c in configs] if mode == "speed" else [configs]
    for group in groups:
        for tool in TOOLS:
            print(f"[{mode}] {tool} {group if mode == 'speed' else ''}...", flush=True)
            rows += _run_worker(tool, mode, epochs, n_train, group)
    return rows


def speed_report(rows: list[dict], rate: float, n_train: int, out_dir: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame(rows)
    torch_time = df[df.tool == "torch"].set_index(["batch", "hidden"])["median_s"]
    df["vs_torch"] = [r.median_s / torch_time[(r.batch, r.hidden)] for r in df.itertuples()]
    df["gflops"] = [epoch_flops([784, r.hidden, 10], n_train) / r.median_s / 1e9 for r in df.itertuples()]
    df["of_matmul_rate"] = df["gflops"] / rate
    df.to_csv(out_dir / "epoch_times.csv", index=False)

    lines = [f"float32 matrix-product rate (NumPy BLAS, square matrices): {rate:.0f} GFLOP/s",
             f"epoch = {n_train} x 784 inputs, SGD, median of {int(df.epochs.iloc[0])} epochs "
             "after a warm-up",
             "",
             f"{'hidden':>6} {'batch':>5} | {'tool':>6} | {'median s':>8} {'min-max s':>13} | "
             f"{'x torch':>7} | {'GFLOP/s':>7} {'of peak':>7}"]
    for (hidden, batch), group in df.groupby(["hidden", "batch"]):
        for r in group.itertuples():
            lines.append(f"{hidden:>6} {batch:>5} | {r.tool:>6} | {r.median_s:8.3f} "
                         f"{r.min_s:6.3f}-{r.max_s:6.3f} | {r.vs_torch:7.2f} | {r.gflops:7.1f} "
                         f"{r.of_matmul_rate:7.0%}")
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [f"H={h}\nb={b}" for b, h in sorted({(r.batch, r.hidden) for r in df.itertuples()},
                                                  key=lambda bh: (bh[1], bh[0]))]
    for i, tool in enumerate(TOOLS):
        sub = df[df.tool == tool].sort_values(["hidden", "batch"])
        ax.bar([x + (i - 1) * 0.27 for x in range(len(sub))], sub.median_s, width=0.27, label=tool,
               yerr=[sub.median_s - sub.min_s, sub.max_s - sub.median_s], capsize=2)
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title=f"Epoch time, {n_train} x 784 inputs, SGD (median, min-max)",
           xlabel="hidden units H and batch size b", ylabel="seconds per epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "epoch_times.png", dpi=120)
    return "\n".join(lines)


def accuracy_report(rows: list[dict], out_dir: Path) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    df.to_csv(out_dir / "fashion_accuracy.csv", index=False)
    s = ACCURACY_SETTINGS
    lines = [f"Full Fashion-MNIST (60,000 / 10,000), SGD lr={s['lr']}, batch {s['batch_size']}, "
             f"{s['epochs']} epochs, same initial weights and batches for every tool", "",
             f"{'network':>17} {'layers':>15} | {'tool':>6} | {'test acc':>8} {'floor':>6} | {'train s':>8}"]
    for r in df.itertuples():
        verdict = "ok" if r.test_acc >= r.floor else "BELOW"
        lines.append(f"{r.network:>17} {r.layers:>15} | {r.tool:>6} | {r.test_acc:8.4f} {r.floor:6.3f} "
                     f"{verdict:>5} | {r.seconds:8.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accuracy", action="store_true", help="full Fashion-MNIST accuracy check")
    parser.add_argument("--quick", action="store_true", help="a small speed run (for tests)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs after the warm-up")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default results/bench)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        spec = json.loads(args.worker)
        rows = worker(spec["tool"], spec["mode"], spec["epochs"], spec["n_train"],
                      [tuple(c) for c in spec["configs"]])
        print(json.dumps(rows))
        return 0

    from utils import config

    out_dir = args.out or config.results_dir("bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.accuracy:
        try:
            from utils.data import load_fashion_mnist

            load_fashion_mnist()
        except FileNotFoundError as err:
            print(err)
            return 2
        report = accuracy_report(run_tools("accuracy", 0, 0, []), out_dir)
        below = "BELOW" in report
    else:
        n_train, epochs, configs = (2048, 2, [(64, 128), (512, 128)]) if args.quick else \
            (60000, args.epochs, SPEED_CONFIGS)
        rate = matmul_rate(1024 if args.quick else 2048)
        report = speed_report(run_tools("speed", epochs, n_train, configs), rate, n_train, out_dir)
        below = False
    print(report)
    (out_dir / ("accuracy.txt" if args.accuracy else "speed.txt")).write_text(report + "\n")
    print(f"\nwritten to {out_dir}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
