"""Epoch time of the three implementations, and a full-size accuracy check.

    python tools/bench.py               # speed: epoch times, ratios, matmul rate  (make bench)
    python tools/bench.py --accuracy    # accuracy: full Fashion-MNIST, each tool  (make bench-accuracy)
    python tools/bench.py --quick       # a small, fast run of the speed mode, not interleaved (tests)
    python tools/bench.py --onednn on   # Keras with TensorFlow's oneDNN on only (also: off, default)

**Speed.** For batch sizes 64, 128, 512 and 128 or 512 hidden units, each tool
trains a 784-H-10 network with SGD on 60,000 x 784 float32 inputs (random
pixels: speed does not depend on the pictures). Each tool runs in its own
process, one after the other, so they do not compete for the cores, and the
tools are interleaved configuration by configuration, so that drift in the
machine's speed during the run hits all of them alike. Every library gets the
same CPU threads (``TP_THREADS``, default 1; the header says how many). The first
epoch is a warm-up (it includes Keras's XLA compilation); the next ``--epochs``
(default 5) are timed. Epoch time = training only, as recorded by the same
training entry point notebook 07 uses (``utils.train.run``, which calls
``utils.reference.train``, ``utils.train.fit`` and ``utils.train.fit_keras``). It prints medians, spread
(min-max) and the ratio to PyTorch, and compares each implementation's FLOP rate
with the machine's float32 matrix-product rate measured at the start of the run
(a reference, not a limit).

**TensorFlow's configuration.** TensorFlow's oneDNN custom operations
(``TF_ENABLE_ONEDNN_OPTS``) change its kernels; unset, TensorFlow decides by the CPU
(on Linux: on for CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX, off otherwise).
By default (``--onednn both``) Keras is timed twice per configuration, with them on
(``TF_ENABLE_ONEDNN_OPTS=1``) and off (``=0``), interleaved with the other tools, and
the report gives the ratio off / on; ``--onednn on`` or ``off`` times one setting,
``--onednn default`` leaves the variable as the environment has it. Every Keras row
says which setting TensorFlow actually ran with.

**Accuracy.** Each tool trains the one-hidden-layer (784-256-10) and the deeper
(784-256-128-10) network on the full Fashion-MNIST (60,000 / 10,000; install it
with ``sudo apt-get install dataset-fashion-mnist``) from the same initial
weights and batches, and reports test accuracy and time (Keras in TensorFlow's
default configuration unless ``--onednn`` says otherwise).

Results go to ``results/bench/`` (CSV and PNG).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from utils.measure import ONEDNN_VARIABLE, epoch_flops, matmul_rate

TOOLS = ("numpy", "torch", "keras")
#: --onednn: the settings of TF_ENABLE_ONEDNN_OPTS that Keras is timed with (None: as the environment has it).
ONEDNN_RUNS = {"both": ("1", "0"), "on": ("1",), "off": ("0",), "default": (None,)}
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


def _onednn_state(tool: str) -> str:
    """"on" or "off" for Keras (as TensorFlow reports it), "" for the other tools."""
    if tool != "keras":
        return ""
    from utils.measure import onednn_enabled

    return {True: "on", False: "off", None: "unknown"}[onednn_enabled()]


def _tensorflow_version(tool: str) -> str:
    if tool != "keras":
        return ""
    import tensorflow as tf

    return tf.__version__


def worker(tool: str, mode: str, epochs: int, n_train: int, configs) -> list[dict]:
    import numpy as np

    from utils import config  # noqa: F401  (quiet TensorFlow before it is imported)

    rows = []
    if mode == "speed":
        ds = _synthetic(n_train)
        for batch, hidden in configs:
            h = _train(tool, [784, hidden, 10], ds, epochs + 1, 0.01, batch)
            epoch_times = np.diff([0.0] + h.seconds)[1:]  # drop the warm-up epoch
            rows.append(dict(tool=tool, onednn=_onednn_state(tool), batch=batch, hidden=hidden,
                             epochs=len(epoch_times),
                             median_s=float(np.median(epoch_times)), min_s=float(epoch_times.min()),
                             max_s=float(epoch_times.max()), tensorflow=_tensorflow_version(tool),
                             onednn_variable=os.environ.get(ONEDNN_VARIABLE, "unset")))
    else:
        from utils.data import load_fashion_mnist

        ds = load_fashion_mnist()
        for name, sizes in ACCURACY_NETS.items():
            h = _train(tool, sizes, ds, **ACCURACY_SETTINGS)
            n_test = len(ds.y_test)  # accuracies are counts of images: drop float32's last digits
            correct = round(h.test_acc[-1] * n_test)
            rows.append(dict(tool=tool, onednn=_onednn_state(tool), network=name,
                             layers="-".join(map(str, sizes)),
                             test_correct=correct, test_acc=correct / n_test,
                             best_test_acc=max(h.test_acc),
                             train_acc=h.train_acc[-1], seconds=h.seconds[-1],
                             floor=ACCURACY_FLOORS[name], tensorflow=_tensorflow_version(tool),
                             onednn_variable=os.environ.get(ONEDNN_VARIABLE, "unset")))
    return rows


# --- driver ------------------------------------------------------------------------------


def _worker_env(onednn: str | None) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if onednn is not None:
        env[ONEDNN_VARIABLE] = onednn
    return env


def _run_worker(tool: str, mode: str, epochs: int, n_train: int, configs,
                onednn: str | None = None) -> list[dict]:
    spec = json.dumps({"tool": tool, "mode": mode, "epochs": epochs, "n_train": n_train, "configs": configs})
    out = subprocess.run([sys.executable, __file__, "--worker", spec], capture_output=True, text=True,
                         env=_worker_env(onednn))
    if out.returncode != 0:
        sys.exit(f"the {tool} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _default_line(version: str, state: str) -> str:
    return f"TensorFlow {version}: oneDNN custom operations {state} by default on this machine"


def tensorflow_default(rows=()) -> str:
    """TensorFlow's version and its own oneDNN default on this machine, as one line; "" when
    TensorFlow is missing. Read from a Keras row that ran with TF_ENABLE_ONEDNN_OPTS unset when
    there is one, otherwise asked of a fresh process with the variable unset."""
    for row in rows:
        if row.get("tool") == "keras" and row.get("onednn_variable") == "unset":
            return _default_line(row["tensorflow"], row["onednn"])
    env = _worker_env(None)
    env.pop(ONEDNN_VARIABLE, None)
    code = ("from utils import measure; import tensorflow as tf; "
            "print(tf.__version__, {True: 'on', False: 'off', None: 'unknown'}[measure.onednn_enabled()])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0 or not out.stdout.strip():
        return ""
    version, state = out.stdout.split()[-2:]
    return _default_line(version, state)


def run_tools(mode: str, epochs: int, n_train: int, configs, onednn: str = "both",
              interleave: bool = True) -> list[dict]:
    """Each tool in its own process, one process at a time. For speed, configuration
    by configuration (NumPy, PyTorch, Keras with each oneDNN setting on one
    configuration, then the next), so that a machine whose speed drifts during the run
    affects every tool alike; ``interleave=False`` (``--quick``) runs every configuration
    of a tool in one process, which saves starting the libraries again."""
    rows = []
    runs = [(tool, None) for tool in TOOLS if tool != "keras"] + [("keras", v) for v in ONEDNN_RUNS[onednn]]
    groups = [[c] for c in configs] if mode == "speed" and interleave else [configs]
    for group in groups:
        for tool, setting in runs:
            what = f" {ONEDNN_VARIABLE}={setting}" if setting is not None else ""
            print(f"[{mode}] {tool}{what} {group if mode == 'speed' else ''}...", flush=True)
            rows += _run_worker(tool, mode, epochs, n_train, group, setting)
    return rows


def label(tool: str, onednn: str) -> str:
    """A row's name: the tool, and for Keras the oneDNN setting TensorFlow ran with."""
    return f"keras oneDNN {onednn}" if tool == "keras" else tool


def _threads_line() -> str:
    from utils import config

    return f"CPU threads per library: {config.threads()} (TP_THREADS)"


def onednn_lines(df) -> list[str]:
    """Keras with oneDNN off against on, configuration by configuration, when both were timed."""
    keras = df[df.tool == "keras"]
    if set(keras.onednn) != {"on", "off"}:
        return []
    lines = ["", "Keras, oneDNN off / on (ratio of median epoch times; 'overlap' = the min-max ranges "
             "overlap, the difference is within the noise):"]
    for (hidden, batch), g in keras.groupby(["hidden", "batch"]):
        on, off = g[g.onednn == "on"].iloc[0], g[g.onednn == "off"].iloc[0]
        overlap = off.min_s <= on.max_s and on.min_s <= off.max_s
        lines.append(f"  H={hidden:<4} b={batch:<4} on {on.median_s:.3f} s, off {off.median_s:.3f} s: "
                     f"{off.median_s / on.median_s:.2f}x{'  (overlap)' if overlap else ''}")
    return lines


def speed_report(rows: list[dict], rate: float, n_train: int, out_dir: Path, tf_line: str = "") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame(rows)
    df["label"] = [label(r.tool, r.onednn) for r in df.itertuples()]
    torch_time = df[df.tool == "torch"].set_index(["batch", "hidden"])["median_s"]
    df["vs_torch"] = [r.median_s / torch_time[(r.batch, r.hidden)] for r in df.itertuples()]
    df["gflops"] = [epoch_flops([784, r.hidden, 10], n_train) / r.median_s / 1e9 for r in df.itertuples()]
    df["of_matmul_rate"] = df["gflops"] / rate
    df.to_csv(out_dir / "epoch_times.csv", index=False)

    lines = [_threads_line(),
             *([tf_line] if tf_line else []),
             f"float32 matrix-product rate (NumPy BLAS, square matrices, measured at the start): {rate:.0f} "
             "GFLOP/s, a reference, not a limit",
             f"epoch = {n_train} x 784 inputs, SGD, median and min-max of {int(df.epochs.iloc[0])} epochs "
             "after a warm-up",
             "",
             f"{'hidden':>6} {'batch':>5} | {'tool':>16} | {'median s':>8} {'min-max s':>13} | "
             f"{'x torch':>7} | {'GFLOP/s':>7} {'of matmul':>9}"]
    for (hidden, batch), group in df.groupby(["hidden", "batch"]):
        for r in group.itertuples():
            lines.append(f"{hidden:>6} {batch:>5} | {r.label:>16} | {r.median_s:8.3f} "
                         f"{r.min_s:6.3f}-{r.max_s:6.3f} | {r.vs_torch:7.2f} | {r.gflops:7.1f} "
                         f"{r.of_matmul_rate:9.0%}")
    lines += onednn_lines(df)
    variants = list(dict.fromkeys(df.label))
    width = 0.8 / len(variants)
    fig, ax = plt.subplots(figsize=(10, 4))
    labels = [f"H={h}\nb={b}" for b, h in sorted({(r.batch, r.hidden) for r in df.itertuples()},
                                                  key=lambda bh: (bh[1], bh[0]))]
    for i, name in enumerate(variants):
        sub = df[df.label == name].sort_values(["hidden", "batch"])
        offset = (i - (len(variants) - 1) / 2) * width
        ax.bar([x + offset for x in range(len(sub))], sub.median_s, width=width, label=name,
               yerr=[sub.median_s - sub.min_s, sub.max_s - sub.median_s], capsize=2)
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title=f"Epoch time, {n_train} x 784 inputs, SGD (median, min-max of {int(df.epochs.iloc[0])} "
                 "epochs)",
           xlabel="hidden units H and batch size b", ylabel="seconds per epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "epoch_times.png", dpi=120)
    return "\n".join(lines)


def accuracy_report(rows: list[dict], out_dir: Path, tf_line: str = "") -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    df["label"] = [label(r.tool, r.onednn) for r in df.itertuples()]
    df.to_csv(out_dir / "fashion_accuracy.csv", index=False)
    s = ACCURACY_SETTINGS
    lines = [_threads_line(), *([tf_line] if tf_line else []),
             f"Full Fashion-MNIST (60,000 / 10,000), SGD lr={s['lr']}, batch {s['batch_size']}, "
             f"{s['epochs']} epochs, same initial weights and batches for every tool", "",
             f"{'network':>17} {'layers':>15} | {'tool':>16} | {'test acc':>8} {'floor':>6} | {'train s':>8}"]
    for r in df.itertuples():
        verdict = "ok" if r.test_acc >= r.floor else "BELOW"
        lines.append(f"{r.network:>17} {r.layers:>15} | {r.label:>16} | {r.test_acc:8.4f} {r.floor:6.3f} "
                     f"{verdict:>5} | {r.seconds:8.1f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accuracy", action="store_true", help="full Fashion-MNIST accuracy check")
    parser.add_argument("--quick", action="store_true", help="a small speed run (for tests)")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs after the warm-up")
    parser.add_argument("--onednn", choices=tuple(ONEDNN_RUNS), default=None,
                        help="TensorFlow's oneDNN custom operations for the Keras runs: both (on and off, "
                             "interleaved; the default for speed), on, off, or default (as the environment "
                             "has it; the default for --accuracy)")
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
        onednn = args.onednn or "default"
        rows = run_tools("accuracy", 0, 0, [], onednn)
        report = accuracy_report(rows, out_dir, tensorflow_default(rows))
        below = "BELOW" in report
    else:
        n_train, epochs, configs = (2048, 3, [(64, 128), (512, 128)]) if args.quick else \
            (60000, args.epochs, SPEED_CONFIGS)
        rate = matmul_rate(1024 if args.quick else 2048)
        rows = run_tools("speed", epochs, n_train, configs, args.onednn or "both", interleave=not args.quick)
        report = speed_report(rows, rate, n_train, out_dir, tensorflow_default(rows))
        below = False
    print(report)
    (out_dir / ("accuracy.txt" if args.accuracy else "speed.txt")).write_text(report + "\n")
    print(f"\nwritten to {out_dir}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
