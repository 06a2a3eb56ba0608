"""utils.train: the PyTorch loop of the studies, and the Keras/PyTorch twins of
the reference network that notebook 07 and tools/bench.py compare."""

import numpy as np
import pytest

from utils import config, train  # noqa: F401  (config first: it quiets TensorFlow)
from utils import reference as ref
from utils.data import Dataset, load_sample
from utils.history import is_diverged

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def small():
    ds = load_sample()
    return Dataset(ds.x_train[:1000], ds.y_train[:1000], ds.x_test[:300], ds.y_test[:300], "sample")


def test_mlp_shapes_activations_and_parameter_count():
    model = train.mlp([784, 64, 32, 10], activation="tanh")
    assert train.count_params(model) == 52650  # the PSL lecture's reference network
    assert sum(isinstance(m, torch.nn.Tanh) for m in model) == 2
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    with pytest.raises(ValueError, match="activation must be one of"):
        train.mlp([784, 10, 10], activation="relu6")


@pytest.mark.parametrize("activation, std", [("relu", lambda m, n: (2 / m) ** 0.5),
                                             ("swish", lambda m, n: (2 / m) ** 0.5),
                                             ("tanh", lambda m, n: (2 / (m + n)) ** 0.5)])
def test_mlp_starts_with_the_initialisation_of_notebook_01(activation, std):
    """He, N(0, 2/M), for ReLU-like activations; Glorot, N(0, 2/(M+N)), for sigmoid and tanh."""
    torch.manual_seed(0)
    model = train.mlp([784, 256, 64, 10], activation).requires_grad_(False)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for lin in linears:
        n, m = lin.weight.shape
        assert float(lin.weight.std()) == pytest.approx(std(m, n), rel=0.1)
        assert float(lin.weight.mean()) == pytest.approx(0, abs=0.2 * std(m, n))
        assert not lin.bias.any()
    torch_default = train.mlp([784, 256, 10], init="torch")[0].weight.detach()
    assert float(torch_default.abs().max()) <= 1 / 784 ** 0.5
    with pytest.raises(ValueError, match="init must be"):
        train.mlp([784, 10], init="he")


def test_fit_learns_and_records_a_full_history(small):
    torch.manual_seed(0)
    h = train.fit(train.mlp([784, 64, 10]), small, epochs=6, lr=0.1, batch_size=32)
    assert h.epoch == [1, 2, 3, 4, 5, 6] and not h.diverged
    assert h.test_acc[-1] > 0.8 and h.train_loss[-1] < h.train_loss[0]  # chance is 0.1
    assert all(b > a for a, b in zip(h.seconds, h.seconds[1:]))


def test_evaluate_every_skips_the_evaluations_between_and_keeps_the_last(small):
    torch.manual_seed(0)
    every = train.mlp([784, 32, 10])
    sparse = train.mlp([784, 32, 10])
    sparse.load_state_dict(every.state_dict())
    full = train.fit(every, small, epochs=7, lr=0.1, batch_size=50, val=(small.x_test, small.y_test))
    h = train.fit(sparse, small, epochs=7, lr=0.1, batch_size=50, val=(small.x_test, small.y_test),
                  evaluate_every=3)
    assert h.epoch == [3, 6, 7]
    assert np.allclose(h.test_acc, [full.test_acc[i - 1] for i in h.epoch])
    assert h.best_epoch in h.epoch
    with pytest.raises(ValueError, match="evaluate_every must be"):
        train.fit(sparse, small, epochs=1, lr=0.1, evaluate_every=0)


def test_fit_is_seeded(small):
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append(train.fit(train.mlp([784, 32, 10]), small, epochs=2, lr=0.1).test_loss)
    assert runs[0] == runs[1]


def test_a_diverging_rate_is_flagged_not_raised(small, recwarn):
    torch.manual_seed(0)
    h = train.fit(train.mlp([784, 64, 10]), small, epochs=5, lr=50.0, batch_size=32)
    assert h.diverged and len(h.epoch) < 5
    assert h.stop_loss is not None and is_diverged(h.stop_loss)  # the loss that stopped it
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_validation_names_the_best_epoch_and_fit_keeps_the_last_weights(small):
    """Early stopping is notebook 06's exercise: fit records which epoch validation prefers,
    trains every epoch and leaves the model with its last weights."""
    torch.manual_seed(0)
    model = train.mlp([784, 64, 10])
    val = (small.x_test[:150], small.y_test[:150])
    h = train.fit(model, small, epochs=4, lr=0.1, batch_size=32, val=val)
    assert h.epoch == [1, 2, 3, 4] and len(h.val_acc) == 4
    assert h.best_epoch == int(np.argmax(h.val_acc)) + 1
    assert train.evaluate(model, *val)[1] == pytest.approx(h.val_acc[-1])


def test_one_epoch_at_a_time_repeats_one_long_run(small):
    """Notebook 06 trains one epoch per call, with seed + epoch: the same batches as one call."""
    torch.manual_seed(0)
    once = train.mlp([784, 16, 10])
    stepwise = train.mlp([784, 16, 10])
    stepwise.load_state_dict(once.state_dict())
    h = train.fit(once, small, epochs=3, lr=0.1, batch_size=50, seed=5)
    steps = [train.fit(stepwise, small, 1, 0.1, 50, seed=5 + e).test_loss[-1] for e in range(3)]
    assert np.allclose(steps, h.test_loss, atol=1e-6)


def test_a_loss_function_replaces_the_cross_entropy(small):
    """loss_fn(model, logits, y) is what SGD minimises; the History still records the cross-entropy."""
    torch.manual_seed(0)
    plain = train.mlp([784, 16, 10])
    penalised = train.mlp([784, 16, 10])
    penalised.load_state_dict(plain.state_dict())
    seen = []

    def l2(model, logits, y):
        seen.append(logits.shape)
        weights = sum((m.weight ** 2).sum() for m in model if isinstance(m, torch.nn.Linear))
        return torch.nn.functional.cross_entropy(logits, y) + 0.05 * weights

    h_plain = train.fit(plain, small, epochs=2, lr=0.1, batch_size=100)
    h = train.fit(penalised, small, epochs=2, lr=0.1, batch_size=100, loss_fn=l2)
    assert seen[0] == (100, 10) and len(seen) == 2 * 10
    norm = lambda m: sum(float((p.detach() ** 2).sum()) for n, p in m.named_parameters() if "weight" in n)  # noqa: E731
    assert norm(penalised) < norm(plain)
    test_loss = train.evaluate(penalised, small.x_test, small.y_test)[0]
    assert test_loss == pytest.approx(h.test_loss[-1], rel=1e-5)
    assert h_plain.test_loss != h.test_loss
    with pytest.raises(ValueError, match="loss_fn must be a function"):
        train.fit(plain, small, 1, 0.1, loss_fn="l2")


def test_time_budget_stops_training(small):
    h = train.fit(train.mlp([784, 32, 10]), small, epochs=1000, lr=0.01, batch_size=1, time_budget=0.3)
    assert h.seconds[-1] < 2.0 and len(h.epoch) < 1000


def test_full_batch_and_weight_decay(small):
    torch.manual_seed(0)
    plain = train.mlp([784, 16, 10])
    decayed = train.mlp([784, 16, 10])
    decayed.load_state_dict(plain.state_dict())
    train.fit(plain, small, epochs=3, lr=0.5, batch_size=None)
    train.fit(decayed, small, epochs=3, lr=0.5, batch_size=None, weight_decay=0.5)
    norm = lambda m: sum(float((p.detach() ** 2).sum()) for n, p in m.named_parameters() if "weight" in n)  # noqa: E731
    assert norm(decayed) < norm(plain)


def test_torch_twin_computes_the_reference_forward_pass(small):
    params = ref.init_params(784, 32, 16, 10, seed=2)
    model = train.torch_from_reference(params)
    logits = model(torch.from_numpy(small.x_test)).detach().numpy()
    probs = ref.forward(small.x_test, params)[-1]
    assert np.allclose(ref.softmax(logits), probs, atol=1e-6)


def test_all_three_tools_train_identically_from_the_same_start(small):
    pytest.importorskip("tensorflow")
    params = ref.init_params(784, 32, 10, seed=0)
    before = [p.copy() for p in params]
    h_np, h_keras, h_torch = (train.run(tool, params, small, 2, 0.1, 50)
                              for tool in ("numpy", "keras", "torch"))
    assert all(np.array_equal(p, q) for p, q in zip(params, before))  # run() trains a copy
    for h in (h_torch, h_keras):
        assert h.epoch == [1, 2] and not h.diverged
        assert np.allclose(h.test_loss, h_np.test_loss, atol=1e-4)
        assert np.allclose(h.test_acc, h_np.test_acc, atol=0.005)
    with pytest.raises(ValueError, match="tool must be one of numpy, keras, torch"):
        train.run("jax", params, small, 1, 0.1)


def test_seeding_before_the_first_model_gives_the_same_weights(tmp_path):
    """Regression: utils.train imported torch lazily, so a seed set before the first
    mlp() did not reach PyTorch and the first run of a notebook was unseeded."""
    import subprocess
    import sys

    code = ("from utils import config, train\n"
            "config.seed_everything(0); a = train.mlp([784, 8, 10])[0].weight\n"
            "config.seed_everything(0); b = train.mlp([784, 8, 10])[0].weight\n"
            "print(bool((a == b).all()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=config.ROOT)
    assert out.stdout.strip() == "True", out.stderr[-1000:]


# --- divergence: one rule for PyTorch, Keras and NumPy ------------------------------------------


@pytest.mark.parametrize("tool", ["numpy", "keras", "torch"])
def test_every_tool_flags_a_diverging_rate_the_same_way(small, tool):
    """lr=100: Keras used to end with a loss of 58.6 and diverged=False."""
    if tool == "keras":
        pytest.importorskip("tensorflow")
    h = train.run(tool, ref.init_params(784, 64, 10, seed=0), small, epochs=4, lr=100.0, batch_size=32)
    assert h.diverged and len(h.epoch) < 4


@pytest.mark.parametrize("tool", ["numpy", "keras", "torch"])
@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=float("nan")), "finite number > 0"),
    (dict(lr=0.0), "finite number > 0"),
    (dict(epochs=0), "epochs must be an integer >= 1"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
])
def test_every_tool_rejects_bad_settings(small, tool, kwargs, message):
    if tool == "keras":
        pytest.importorskip("tensorflow")
    args = dict(epochs=1, lr=0.1, batch_size=32) | kwargs
    with pytest.raises(ValueError, match=message):
        train.run(tool, ref.init_params(784, 8, 10), small, **args)


@pytest.mark.parametrize("tool", ["numpy", "keras", "torch"])
@pytest.mark.parametrize("labels, message", [
    (lambda y: y + 3, "outside|0..9|between"),  # 10, 11, 12 appear
    (lambda y: y - 1, "-1"),
    (lambda y: y + 0.5, "integer"),
])
def test_every_tool_rejects_bad_labels_before_training(small, tool, labels, message):
    """Labels out of range with XLA used to give a NaN loss and 0.10 accuracy, silently."""
    if tool == "keras":
        pytest.importorskip("tensorflow")
    bad = Dataset.__new__(Dataset)  # skip Dataset's own validation: the loop must check too
    bad.__dict__.update(x_train=small.x_train, y_train=labels(small.y_train), x_test=small.x_test,
                        y_test=small.y_test, source="sample", name="mnist")
    with pytest.raises(ValueError, match=message):
        train.run(tool, ref.init_params(784, 8, 10), bad, epochs=1, lr=0.1, batch_size=32)


def test_fit_rejects_bad_study_settings(small):
    model = train.mlp([784, 8, 10])
    with pytest.raises(ValueError, match="time_budget"):
        train.fit(model, small, 1, 0.1, time_budget=-1)
    with pytest.raises(ValueError, match="optimizer must be"):
        train.fit(model, small, 1, 0.1, optimizer="sgdd")


def test_params_of_reads_back_the_weights_a_model_was_given():
    """train.params_of is the inverse of torch_from_reference: [W0, b0, ...] in the lecture's shape."""
    params = ref.init_params(6, 5, 4, 3, seed=2)
    back = train.params_of(train.torch_from_reference(params))
    assert [p.shape for p in back] == [p.shape for p in params]
    for got, given in zip(back, params):
        np.testing.assert_array_equal(got, given)
    with pytest.raises(TypeError, match="nn.Linear"):
        train.params_of("not a model")
