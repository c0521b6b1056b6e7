"""admodes.nn: the two models, the stable loss, the optimizers and fit in every mode. The
exact modes must produce the same parameters; counts of sweeps are deterministic."""

import gc
import math
import warnings

import numpy as np
import pytest

import admodes
from admodes.nn import (
    MLP,
    SGD,
    Adam,
    ArrayMLP,
    Layer,
    Neuron,
    accuracy,
    binary_cross_entropy,
    count_params,
    fit,
    forward_gradient_along,
    gradient_function,
    init_params,
    random_direction,
    scalar_to_arrays,
    sgd_step,
    sigmoid,
)

RNG = np.random.default_rng(7)
X = RNG.normal(size=(48, 2))
Y = (X[:, 0] * X[:, 1] > 0).astype(float)  # XOR-like quadrants: needs the hidden layer
EXACT = [("reverse", "vectorized"), ("forward", "looped"), ("forward", "vectorized")]


def flat(params):
    leaves = admodes.tree_flatten(params)[0]
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=float)) for leaf in leaves])


def naive_bce(z, y):
    s = 1.0 / (1.0 + np.exp(-z))
    return -(y * np.log(s) + (1.0 - y) * np.log(1.0 - s))


# -- the loss and friends -------------------------------------------------------------


def test_stable_bce_matches_the_naive_formula_where_that_is_finite():
    z = np.linspace(-40.0, 40.0, 321)
    s = 1.0 / (1.0 + np.exp(-z))
    # the naive formula's own rounding error: log(1 - s) and log(s) lose eps / (1 - s)
    with np.errstate(divide="ignore"):
        naive_error = 4 * np.finfo(float).eps / np.minimum(s, 1.0 - s)
    for label in (0.0, 1.0):
        with np.errstate(all="ignore"):
            naive = naive_bce(z, label)
        finite = np.isfinite(naive)
        assert 250 < finite.sum() < len(z)
        stable = binary_cross_entropy(z, label)
        assert np.all(np.abs(stable - naive)[finite]
                      <= 1e-12 * np.abs(naive[finite]) + naive_error[finite])


def test_stable_bce_stays_finite_where_the_naive_formula_is_not():
    z = np.array([-1e300, -800.0, -40.0, 40.0, 800.0, 1e300])
    for label in (0.0, 1.0):
        with np.errstate(all="ignore"):
            naive = naive_bce(z, label)
        assert not np.all(np.isfinite(naive))
        # no overflow, no log(0), no 0 * inf (underflow to 0 is harmless)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            stable = binary_cross_entropy(z, label)
        assert np.all(np.isfinite(stable)) and np.all(stable >= 0)
    # the loss is |z| for a confidently wrong logit and ~0 for a confidently right one
    assert binary_cross_entropy(800.0, 0.0) == 800.0
    assert binary_cross_entropy(800.0, 1.0) == 0.0


def test_bce_derivative_is_finite_for_huge_logits_in_both_modes():
    z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])

    def loss(z):
        return np.sum(binary_cross_entropy(z, y))

    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g_rev = admodes.grad(loss)(z)
        g_fwd = admodes.jacfwd(loss)(z)
    np.testing.assert_allclose(g_rev, sigmoid(z) - y, atol=1e-15)
    np.testing.assert_allclose(g_fwd, g_rev)


def test_sigmoid_has_no_overflow_and_accuracy_counts_signs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(np.array([-1e4, -1.0, 0.0, 1.0, 1e4]))
    np.testing.assert_allclose(s, [0.0, 1 / (1 + math.e), 0.5, 1 / (1 + 1 / math.e), 1.0])
    assert accuracy(np.array([1.0, -2.0, 3.0, -0.5]), np.array([1, 0, 0, 0])) == 0.75


# -- the models -----------------------------------------------------------------------


def test_notebook_style_neurons_and_layers():
    neuron = Neuron([2.0, -1.0], bias=0.5)
    assert neuron([1.0, 3.0]) == -0.5
    assert neuron.parameters() == ([2.0, -1.0], 0.5)
    layer = Layer([neuron, Neuron([1.0, 1.0])], activation="relu")
    assert layer([1.0, 3.0]) == [0.0, 4.0]
    mlp = MLP((2, 3, 1), seed=1)
    assert 0.0 < float(mlp([0.2, -0.4])) < 1.0
    assert [len(layer.neurons) for layer in mlp.layers] == [3, 1]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_scalar_and_array_models_compute_the_same_network(activation):
    sizes = (2, 5, 4, 1)
    scalar, array = MLP(sizes, activation, seed=3), ArrayMLP(sizes, activation, seed=3)
    assert scalar.n_params == array.n_params == count_params(init_params(sizes)) == 44
    np.testing.assert_allclose(np.array(scalar.logits(scalar.params, X), dtype=float),
                               array.logits(array.params, X), rtol=1e-12)
    np.testing.assert_allclose(scalar.loss(scalar.params, X, Y), array.loss(array.params, X, Y),
                               rtol=1e-12)
    for (W, b), (W_ref, b_ref) in zip(scalar_to_arrays(scalar.params), array.params):
        np.testing.assert_array_equal(W, W_ref)
        np.testing.assert_array_equal(b, b_ref)


def test_parameters_are_pytrees_of_the_documented_structure():
    scalar = MLP((2, 3, 1))
    params = scalar.params
    assert isinstance(params, list) and isinstance(params[0][0], tuple)
    weights, bias = params[0][0]
    assert all(isinstance(w, float) for w in weights) and isinstance(bias, float)
    array = ArrayMLP((2, 3, 1), init="he")
    assert [(W.shape, b.shape) for W, b in array.params] == [((2, 3), (3,)), ((3, 1), (1,))]


# -- gradients by every mode ----------------------------------------------------------


@pytest.mark.parametrize("model_cls", [ArrayMLP, MLP])
def test_every_mode_gives_the_exact_gradient_or_an_unbiased_estimate(model_cls):
    model = model_cls((2, 3, 2, 1), seed=2)
    params, Xb, yb = model.params, X[:8], Y[:8]
    grads = [flat(gradient_function(model, m, s)(params, Xb, yb, None)) for m, s in EXACT]
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12, atol=1e-15)
    fg = gradient_function(model, "forward-gradient")
    rng = np.random.default_rng(0)
    n = 3000 if model_cls is ArrayMLP else 600
    mean = np.mean([flat(fg(params, Xb, yb, rng)) for _ in range(n)], axis=0)
    # each estimate has standard deviation ~ |g| sqrt(k + 1); the mean of n, / sqrt(n)
    bound = 5 * np.linalg.norm(grads[0]) * math.sqrt((len(mean) + 1) / n)
    assert np.linalg.norm(mean - grads[0]) < bound


@pytest.mark.parametrize("model_cls", [ArrayMLP, MLP])
def test_sweeps_per_step_forward_looped_is_the_parameter_count_others_one(model_cls):
    model = model_cls((2, 3, 2, 1), seed=0)
    n = model.n_params
    expected = {("reverse", "vectorized"): (0, 1, 1), ("forward", "looped"): (n, 0, 0),
                ("forward", "vectorized"): (1, 0, 0),
                ("forward-gradient", "vectorized"): (1, 0, 0)}
    for (mode, strategy), (forward, recordings, reverse) in expected.items():
        with admodes.count_ops() as c:
            gradient_function(model, mode, strategy)(model.params, X[:8], Y[:8],
                                                     np.random.default_rng(0))
        assert (c.forward_sweeps, c.recordings, c.reverse_sweeps) == (forward, recordings,
                                                                       reverse)
        history = fit(model_cls((2, 3, 2, 1)), X[:16], Y[:16], mode=mode,
                      forward_strategy=strategy, epochs=1, batch_size=8)
        assert history.sweeps.tolist() == [forward + reverse] * 2
        assert (history.ops > 0).all()


def test_forward_gradient_is_one_jvp_along_the_drawn_direction():
    model = ArrayMLP((2, 3, 2, 1), seed=4)
    params, Xb, yb = model.params, X[:8], Y[:8]
    estimate = gradient_function(model, "forward-gradient")(params, Xb, yb,
                                                            np.random.default_rng(9))
    v = random_direction(params, np.random.default_rng(9))
    np.testing.assert_array_equal(flat(estimate),
                                  flat(forward_gradient_along(model, params, Xb, yb, v)))
    exact = flat(gradient_function(model)(params, Xb, yb, None))
    np.testing.assert_allclose(flat(estimate), (exact @ flat(v)) * flat(v), rtol=1e-12)
    with admodes.count_ops() as c:
        forward_gradient_along(model, params, Xb, yb, v)
    assert (c.forward_sweeps, c.reverse_sweeps) == (1, 0)
    scalar = random_direction(MLP((2, 3, 1)).params, np.random.default_rng(0))
    assert all(type(leaf) is float for leaf in admodes.tree_flatten(scalar)[0])


def test_chunked_vectorized_forward_mode_gives_the_same_gradient_in_more_sweeps():
    model = ArrayMLP((2, 3, 2, 1), seed=2)  # 20 parameters
    args = (model.params, X[:8], Y[:8], None)
    whole = gradient_function(model, "forward", "vectorized")
    chunked = gradient_function(model, "forward", "vectorized", chunk_size=6)
    with admodes.count_ops() as c:
        g = chunked(*args)
    np.testing.assert_allclose(flat(g), flat(whole(*args)), rtol=1e-12, atol=1e-15)
    assert c.forward_sweeps == math.ceil(model.n_params / 6) == 4


# -- fit ------------------------------------------------------------------------------


@pytest.mark.parametrize("model_cls,sizes,steps", [(ArrayMLP, (2, 6, 6, 1), 6),
                                                   (MLP, (2, 3, 3, 1), 4)])
def test_exact_modes_produce_the_same_parameters_after_every_step(model_cls, sizes, steps):
    trajectories = []
    for mode, strategy in EXACT:
        snaps = []
        fit(model_cls(sizes, seed=5), X[:8 * steps], Y[:8 * steps], mode=mode,
            forward_strategy=strategy, epochs=1, batch_size=8, learning_rate=0.5, seed=1,
            callback=lambda step, p, snaps=snaps: snaps.append(flat(p)))
        assert len(snaps) == steps
        trajectories.append(np.array(snaps))
    for other in trajectories[1:]:
        scale = np.max(np.abs(trajectories[0]), axis=1)
        assert np.all(np.max(np.abs(other - trajectories[0]), axis=1) <= 1e-9 * scale)
    assert np.all(np.abs(np.diff(trajectories[0], axis=0)).max(axis=1) > 0)  # it moved


@pytest.mark.parametrize("optimizer,learning_rate", [("sgd", 0.5), ("momentum", 0.1),
                                                     ("adam", 0.05)])
def test_training_decreases_the_loss(optimizer, learning_rate):
    model = ArrayMLP((2, 8, 8, 1), seed=0, init="he")
    before = model.evaluate(X, Y)[0]
    history = fit(model, X, Y, epochs=40, batch_size=16, learning_rate=learning_rate,
                  optimizer=optimizer, seed=0)
    after, acc = model.evaluate(X, Y)
    assert after < 0.5 * before and acc >= 0.9
    per_epoch = history.groupby("epoch").loss.mean()
    assert per_epoch.iloc[-5:].mean() < per_epoch.iloc[:5].mean()
    assert list(history.columns) == ["epoch", "step", "loss", "accuracy", "seconds", "sweeps",
                                     "ops"]
    assert history.step.tolist() == list(range(1, 40 * 3 + 1))
    assert (history.seconds > 0).all()


def test_scalar_model_loss_decreases_and_leaves_stay_floats():
    model = MLP((2, 4, 1), seed=0)
    history = fit(model, X[:32], Y[:32], mode="reverse", epochs=6, batch_size=8,
                  learning_rate=0.3)
    assert history.loss.iloc[-4:].mean() < history.loss.iloc[:4].mean()
    leaves = admodes.tree_flatten(model.params)[0]
    assert all(type(leaf) is float for leaf in leaves)


def test_fit_is_deterministic_and_batches_do_not_depend_on_the_mode():
    runs = [fit(ArrayMLP((2, 4, 1), seed=1), X, Y, mode=mode, epochs=2, batch_size=16, seed=3)
            for mode in ("reverse", "reverse", "forward-gradient")]
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    # before the first update every mode sees the same first batch with the same parameters
    assert runs[2].loss.iloc[0] == runs[0].loss.iloc[0]


def test_fit_stops_when_time_is_up_or_the_loss_diverges():
    history = fit(ArrayMLP((2, 4, 1)), X, Y, epochs=10**6, batch_size=8, max_seconds=0.02)
    assert 0 < len(history) < 10**6 and "max_seconds" in history.attrs["stopped"]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        diverged = fit(ArrayMLP((2, 16, 16, 1)), X, Y, mode="forward-gradient", epochs=200,
                       batch_size=8, learning_rate=1e6)
    assert "diverged" in diverged.attrs["stopped"]
    assert np.all(np.isfinite(diverged.loss))


def test_max_steps_stops_on_the_same_trajectory_within_an_epoch():
    snaps = {}
    for steps in (None, 5):
        snaps[steps] = []
        history = fit(ArrayMLP((2, 4, 1), seed=1), X, Y, mode="forward-gradient", epochs=3,
                      batch_size=8, learning_rate=0.05, seed=2, max_steps=steps,
                      callback=lambda step, p, out=snaps[steps]: out.append(flat(p)))
    assert len(history) == 5 and history.attrs["stopped"] == "max_steps=5 reached"
    assert len(snaps[None]) == 3 * 6
    np.testing.assert_array_equal(np.array(snaps[5]), np.array(snaps[None][:5]))
    assert len(fit(ArrayMLP((2, 4, 1)), X, Y, epochs=1, batch_size=8, max_steps=100)) == 6


def test_one_scalar_training_step_creates_no_reference_cycles():
    model = MLP((2, 4, 4, 1), seed=0)
    fit(model, X[:8], Y[:8], epochs=1, batch_size=8)  # warm up caches
    for mode, strategy in [*EXACT, ("forward-gradient", "vectorized")]:
        while gc.collect():  # finalizers run by one pass can leave garbage for the next
            pass
        gc.disable()
        try:
            fit(model, X[:8], Y[:8], mode=mode, forward_strategy=strategy, epochs=1,
                batch_size=8)
            assert gc.collect() == 0, (mode, strategy)
        finally:
            gc.enable()


def test_optimizer_steps():
    assert sgd_step([1.0, np.array([2.0])], [0.5, np.array([1.0])], 0.1)[0] == 0.95
    opt = SGD(0.1, momentum=0.5)
    p = opt.step([1.0], [1.0])
    assert p == [0.9] and opt.step(p, [1.0]) == [pytest.approx(0.75)]
    adam = Adam(0.01)
    assert adam.step([1.0], [123.0]) == [pytest.approx(0.99)]  # first step: lr * sign


# -- bad arguments --------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    ({"mode": "backward"}, r"mode='backward' is not one of 'reverse', 'forward'"),
    ({"epochs": 0}, r"epochs=0: expected a positive integer"),
    ({"epochs": 2.5}, r"epochs=2.5: expected a positive integer"),
    ({"batch_size": -1}, r"batch_size=-1: expected a positive integer"),
    ({"learning_rate": 0.0}, r"learning_rate=0.0: expected a positive number"),
    ({"learning_rate": float("nan")}, r"learning_rate=nan"),
    ({"forward_strategy": "batched"}, r"forward_strategy='batched' is not one of"),
    ({"optimizer": "rmsprop"}, r"optimizer='rmsprop' is not one of"),
    ({"max_seconds": 0}, r"max_seconds=0"),
    ({"max_steps": 0}, r"max_steps=0: expected a positive integer"),
])
def test_fit_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(ArrayMLP((2, 3, 1)), X, Y, **kwargs)


@pytest.mark.parametrize("Xb,yb,match", [
    (X, Y[:-1], r"y has shape \(47,\); expected \(48,\)"),
    (X[:, :1], Y, r"X has shape \(48, 1\); expected \(n_samples, 2\)"),
    (X[0], Y[:1], r"X has shape \(2,\)"),
    (X, Y[:, None], r"y has shape \(48, 1\)"),
    (X, Y * 2, r"expected 0 or 1"),
    (X * np.nan, Y, r"non-finite"),
    (X[:0], Y[:0], r"empty"),
])
def test_fit_refuses_mismatched_data(Xb, yb, match):
    with pytest.raises(ValueError, match=match):
        fit(MLP((2, 3, 1)), Xb, yb)


@pytest.mark.parametrize("make", [
    lambda: ArrayMLP((2,)), lambda: ArrayMLP((2, 0, 1)), lambda: MLP((2, 3, 2)),
    lambda: ArrayMLP((2, 3, 1), activation="sigmoid"), lambda: MLP((2, 3, 1), init="xavier"),
])
def test_models_refuse_bad_architectures(make):
    with pytest.raises(ValueError, match="sizes|activation|init"):
        make()
