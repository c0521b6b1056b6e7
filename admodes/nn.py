"""Small neural networks in plain Python and numpy, trained by either engine.

Two models of the same multilayer perceptron (layer sizes, ReLU or tanh hidden layers, one
logit out, read through a sigmoid as the probability of class 1):

- ``MLP``: the teaching version, ``Neuron``s in ``Layer``s over Python floats; its
  parameters are nested lists, ``[[(weights, bias) for each neuron] for each layer]``.
- ``ArrayMLP``: dense layers over numpy arrays; its parameters are ``[(W, b), ...]``.

The models import nothing from the engines: their ``loss(params, X, y)`` is ordinary code,
so forward and reverse mode differentiate the very same function. ``fit`` trains either
model by reverse mode, by exact forward mode (one JVP per parameter, or one vector-mode
sweep) or by forward gradients (one random-direction JVP per step, Baydin et al. 2022,
"Gradients without Backpropagation"), and returns the history as a DataFrame.

Example:
    >>> import numpy as np
    >>> from admodes.nn import ArrayMLP, fit
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
    >>> y = np.array([1.0, 1.0, 0.0, 0.0])
    >>> model = ArrayMLP((2, 4, 1), seed=0)
    >>> history = fit(model, X, y, mode="reverse", epochs=20, batch_size=4)
    >>> bool(history.loss.iloc[-1] < history.loss.iloc[0])
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .api import grad, jacfwd, jvp
from .core import count_ops
from .staging import jit as _jit
from .tree import tree_flatten, tree_map, tree_unflatten

ACTIVATIONS = ("relu", "tanh")
INITS = ("normal", "he")
MODES = ("reverse", "forward", "forward-gradient")
FORWARD_STRATEGIES = ("looped", "vectorized")
OPTIMIZERS = ("sgd", "momentum", "adam")
HISTORY_COLUMNS = ["epoch", "step", "loss", "accuracy", "seconds", "sweeps", "ops"]


# -- functions for floats, arrays and traced values alike -----------------------------


def moons(n: int, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's two moons: ``n`` points in 2-D and float labels 0.0 / 1.0.

    Example:
        >>> X, y = moons(10, seed=0)
        >>> X.shape, sorted(set(y.tolist()))
        ((10, 2), [0.0, 1.0])
    """
    from sklearn.datasets import make_moons

    X, y = make_moons(n, noise=noise, random_state=seed)
    return X, y.astype(float)


def binary_cross_entropy(logits: Any, labels: Any) -> Any:
    """The binary cross-entropy of the probability ``sigmoid(logits)`` against ``labels``
    (0 or 1), elementwise, computed from the logits without forming the probability.

    ``-(y log s + (1 - y) log(1 - s))`` with ``s = sigmoid(z)`` equals
    ``log(1 + exp(z)) - y z``; ``np.logaddexp(0, z)`` evaluates ``log(1 + exp(z))`` with no
    overflow and no ``log(0)``, so the loss stays finite for any finite logit.

    Example:
        >>> float(binary_cross_entropy(0.0, 1.0)) == math.log(2.0)
        True
        >>> float(binary_cross_entropy(1000.0, 0.0))
        1000.0
    """
    return np.logaddexp(0.0, logits) - labels * logits


def sigmoid(z: Any) -> Any:
    """``1 / (1 + exp(-z))``, as ``exp(-log(1 + exp(-z)))`` so no large ``z`` overflows.

    Example:
        >>> float(sigmoid(0.0)), float(sigmoid(-1000.0)), float(sigmoid(1000.0))
        (0.5, 0.0, 1.0)
    """
    return np.exp(-np.logaddexp(0.0, -z))


def accuracy(logits: Any, labels: Any) -> float:
    """The fraction of samples whose logit has the sign of its label (0 or 1).

    Example:
        >>> accuracy(np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 0.0]))
        0.6666666666666666
    """
    predicted = np.asarray(logits, dtype=float) > 0.0
    return float(np.mean(predicted == (np.asarray(labels) > 0.5)))


def count_params(params: Any) -> int:
    """The number of scalars in a parameter pytree.

    Example:
        >>> count_params([(np.zeros((2, 3)), np.zeros(3)), ([1.0, 2.0], 0.0)])
        12
    """
    return sum(int(np.size(leaf)) for leaf in tree_flatten(params)[0])


def init_params(sizes: Sequence[int], seed: int = 0,
                init: str = "normal") -> list[tuple[np.ndarray, np.ndarray]]:
    """Random weights and zero biases for a perceptron with these layer sizes.

    ``init="normal"`` draws weights from N(0, 1), as the teaching notebook does;
    ``"he"`` scales them by sqrt(2 / fan_in). Both models start from these arrays, so an
    ``MLP`` and an ``ArrayMLP`` with the same arguments compute the same function.

    Example:
        >>> [W.shape for W, b in init_params((2, 3, 1))]
        [(2, 3), (3, 1)]
    """
    sizes = _check_sizes(sizes)
    if init not in INITS:
        raise ValueError(f"init={init!r} is not one of {INITS}")
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        scale = 1.0 if init == "normal" else math.sqrt(2.0 / n_in)
        params.append((rng.standard_normal((n_in, n_out)) * scale, np.zeros(n_out)))
    return params


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if len(sizes) < 2 or any(not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise ValueError(f"sizes={sizes!r}: expected at least two positive integers, "
                         f"e.g. (2, 16, 16, 1)")
    if sizes[-1] != 1:
        raise ValueError(f"sizes={sizes!r}: the last layer must have 1 unit (one logit for "
                         f"binary classification)")
    return tuple(int(n) for n in sizes)


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")
    return activation


# -- the scalar model: Neurons and Layers over Python floats ---------------------------


def _scalar_relu(z: Any) -> Any:
    # One comparison and no op: below zero (and at zero, as in the notebook) the unit
    # outputs the constant 0.0, so no derivative flows back through it.
    return z if z > 0.0 else 0.0


def _array_relu(h: Any) -> Any:
    # h times a constant 0/1 mask: the same derivative as _scalar_relu (0 at h == 0), and
    # its reverse rule is one multiplication by the mask
    return h * (h > 0.0)


class Neuron:
    """One unit: ``bias + sum_i weights[i] * inputs[i]``, over Python floats.

    Example:
        >>> Neuron([1.0, -2.0], bias=0.5)([3.0, 1.0])
        1.5
    """

    __slots__ = ("weights", "bias")

    def __init__(self, weights: Sequence[float], bias: float = 0.0) -> None:
        self.weights = [float(w) for w in weights]
        self.bias = float(bias)

    def parameters(self) -> tuple[list[float], float]:
        """This neuron's parameters as a pytree: ``(weights, bias)``."""
        return list(self.weights), self.bias

    @staticmethod
    def forward(params: tuple[Sequence[Any], Any], inputs: Sequence[Any]) -> Any:
        """The neuron's output for the given parameters (floats or traced values)."""
        weights, z = params
        for w, x in zip(weights, inputs):
            z = z + w * x
        return z

    def __call__(self, inputs: Sequence[Any]) -> Any:
        return Neuron.forward((self.weights, self.bias), inputs)

    def __repr__(self) -> str:
        return f"Neuron({len(self.weights)} inputs)"


class Layer:
    """Neurons that all read the same inputs, followed by an activation (None: identity).

    Example:
        >>> layer = Layer([Neuron([1.0]), Neuron([-1.0])], activation="relu")
        >>> layer([2.0])
        [2.0, 0.0]
    """

    def __init__(self, neurons: Sequence[Neuron], activation: str | None = None) -> None:
        self.neurons = list(neurons)
        self.activation = None if activation is None else _check_activation(activation)

    def parameters(self) -> list[tuple[list[float], float]]:
        """This layer's parameters as a pytree: one ``(weights, bias)`` per neuron."""
        return [n.parameters() for n in self.neurons]

    def forward(self, params: Sequence[Any], inputs: Sequence[Any]) -> list[Any]:
        """The layer's outputs for the given parameters (floats or traced values)."""
        outputs = [Neuron.forward(p, inputs) for p in params]
        if self.activation == "relu":
            return [_scalar_relu(z) for z in outputs]
        if self.activation == "tanh":
            return [np.tanh(z) for z in outputs]
        return outputs

    def __call__(self, inputs: Sequence[Any]) -> list[Any]:
        return self.forward([(n.weights, n.bias) for n in self.neurons], inputs)

    def __repr__(self) -> str:
        return f"Layer({len(self.neurons)} neurons, activation={self.activation})"


class Model:
    """What both models share: ``params``, ``loss(params, X, y)``, ``logits(params, X)``,
    prediction and evaluation with the current parameters.

    Example:
        >>> model = ArrayMLP((2, 3, 1), seed=0)
        >>> X, y = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([1.0, 0.0])
        >>> loss, acc = model.evaluate(X, y)
        >>> bool(np.isclose(loss, model.loss(model.params, X, y))), model.predict(X).shape
        (True, (2,))
    """

    sizes: tuple[int, ...]
    activation: str

    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    @property
    def n_params(self) -> int:
        return count_params(self.params)

    def loss(self, params: Any, X: np.ndarray, y: np.ndarray) -> Any:
        """The mean binary cross-entropy of the model with ``params`` on ``(X, y)``."""
        raise NotImplementedError

    def logits(self, params: Any, X: np.ndarray) -> Any:
        """The logit of each row of ``X`` for the model with ``params``."""
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The probability of class 1 for each row of ``X``, with the current parameters."""
        return np.asarray(sigmoid(np.asarray(self.logits(self.params, X), dtype=float)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The predicted class (0 or 1) for each row of ``X``."""
        return (np.asarray(self.logits(self.params, X), dtype=float) > 0.0).astype(int)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """``(mean loss, accuracy)`` of the current parameters on ``(X, y)``."""
        z = np.asarray(self.logits(self.params, X), dtype=float)
        return float(np.mean(binary_cross_entropy(z, np.asarray(y, float)))), accuracy(z, y)


class MLP(Model):
    """A multilayer perceptron of ``Neuron``s over Python floats.

    ``sizes`` lists the units per layer, inputs first: ``(2, 16, 16, 1)`` has two hidden
    layers of 16. Hidden layers use ``activation``; the last layer is one logit, whose
    sigmoid is the probability of class 1. Parameters start as in ``init_params``.

    Example:
        >>> mlp = MLP((2, 3, 1), seed=0)
        >>> mlp.n_params, len(mlp.layers)
        (13, 2)
        >>> 0.0 < float(mlp.predict_proba(np.array([[0.5, -0.5]]))[0]) < 1.0
        True
    """

    def __init__(self, sizes: Sequence[int] = (2, 16, 16, 1), activation: str = "relu",
                 seed: int = 0, init: str = "normal") -> None:
        self.sizes = _check_sizes(sizes)
        self.activation = _check_activation(activation)
        self.layers = [
            Layer([Neuron(W[:, j], b[j]) for j in range(W.shape[1])],
                  activation=None if k == len(self.sizes) - 2 else activation)
            for k, (W, b) in enumerate(init_params(self.sizes, seed, init))
        ]

    @property
    def params(self) -> list[list[tuple[list[float], float]]]:
        """The parameters as nested lists of floats: layer, neuron, (weights, bias)."""
        return [layer.parameters() for layer in self.layers]

    @params.setter
    def params(self, params: Any) -> None:
        for layer, layer_params in zip(self.layers, params):
            for neuron, (weights, bias) in zip(layer.neurons, layer_params):
                neuron.weights = [float(w) for w in weights]
                neuron.bias = float(bias)

    def logit(self, params: Any, x: Sequence[Any]) -> Any:
        """The logit for one sample ``x`` (a sequence of floats)."""
        for layer, layer_params in zip(self.layers, params):
            x = layer.forward(layer_params, x)
        return x[0]

    def logits(self, params: Any, X: np.ndarray) -> list[Any]:
        """The logit for each row of ``X``, as a list."""
        rows = X.tolist() if isinstance(X, np.ndarray) else X
        return [self.logit(params, x) for x in rows]

    def loss(self, params: Any, X: np.ndarray, y: np.ndarray) -> Any:
        """The mean binary cross-entropy over the rows of ``X``, one sample at a time."""
        rows = X.tolist() if isinstance(X, np.ndarray) else X
        labels = y.tolist() if isinstance(y, np.ndarray) else y
        total = 0.0
        for x, label in zip(rows, labels):
            total = total + binary_cross_entropy(self.logit(params, x), label)
        return total * (1.0 / len(rows))

    def __call__(self, x: Sequence[float]) -> Any:
        """The probability of class 1 for one sample, as the notebook's ``mlp(x)``."""
        return sigmoid(self.logit(self.params, x))

    def __repr__(self) -> str:
        return f"MLP(sizes={self.sizes}, activation={self.activation!r})"


def scalar_to_arrays(params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """An ``MLP``'s parameters as an ``ArrayMLP``'s: one ``(W, b)`` per layer.

    Example:
        >>> W, b = scalar_to_arrays(MLP((2, 3, 1), seed=0).params)[0]
        >>> W.shape, b.shape
        ((2, 3), (3,))
    """
    out = []
    for layer in params:
        W = np.array([list(weights) for weights, _ in layer], dtype=float).T
        b = np.array([bias for _, bias in layer], dtype=float)
        out.append((W, b))
    return out


# -- the array model ------------------------------------------------------------------


class ArrayMLP(Model):
    """A multilayer perceptron of dense layers over numpy arrays.

    Same options as ``MLP``; its parameters are ``[(W, b), ...]`` with ``W`` of shape
    ``(n_in, n_out)``, and it evaluates a whole batch at once: ``h = act(h @ W + b)``.

    Example:
        >>> model = ArrayMLP((2, 3, 1), seed=0)
        >>> model.n_params, model.logits(model.params, np.zeros((5, 2))).shape
        (13, (5,))
    """

    def __init__(self, sizes: Sequence[int] = (2, 16, 16, 1), activation: str = "relu",
                 seed: int = 0, init: str = "normal") -> None:
        self.sizes = _check_sizes(sizes)
        self.activation = _check_activation(activation)
        self.params = init_params(self.sizes, seed, init)

    def logits(self, params: Any, X: np.ndarray) -> Any:
        """The logits of a batch ``X`` of shape ``(n, n_inputs)``: shape ``(n,)``."""
        h = X
        last = len(params) - 1
        for k, (W, b) in enumerate(params):
            h = h @ W + b
            if k < last:
                h = _array_relu(h) if self.activation == "relu" else np.tanh(h)
        return h.reshape(-1)

    def loss(self, params: Any, X: np.ndarray, y: np.ndarray) -> Any:
        """The mean binary cross-entropy of the batch ``(X, y)``."""
        return np.mean(binary_cross_entropy(self.logits(params, X), y))

    def __repr__(self) -> str:
        return f"ArrayMLP(sizes={self.sizes}, activation={self.activation!r})"


# -- optimizers -----------------------------------------------------------------------


def _like(param: Any, value: Any) -> Any:
    # keep a scalar model's leaves Python floats: numpy scalars are slower in every op
    return float(value) if isinstance(param, float) else value


def sgd_step(params: Any, grads: Any, learning_rate: float) -> Any:
    """One step of plain gradient descent: ``params - learning_rate * grads``, leafwise.

    Example:
        >>> sgd_step([np.array([1.0, 2.0]), 3.0], [np.array([0.5, 0.5]), 1.0], 0.1)
        [array([0.95, 1.95]), 2.9]
    """
    return tree_map(lambda p, g: _like(p, p - learning_rate * g), params, grads)


class SGD:
    """Gradient descent with optional heavy-ball momentum (``momentum=0`` is plain SGD).

    Example:
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> opt.step([1.0], [1.0]), opt.step([0.9], [1.0])
        ([0.9], [0.71])
    """

    def __init__(self, learning_rate: float = 1.0, momentum: float = 0.0) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self._velocity: Any = None

    def step(self, params: Any, grads: Any) -> Any:
        if not self.momentum:
            return sgd_step(params, grads, self.learning_rate)
        if self._velocity is None:
            self._velocity = tree_map(lambda g: g, grads)
        else:
            self._velocity = tree_map(lambda v, g: self.momentum * v + g, self._velocity, grads)
        return sgd_step(params, self._velocity, self.learning_rate)


class Adam:
    """Adam (Kingma and Ba 2015): steps scaled by running moments of the gradient.

    Example:
        >>> opt = Adam(learning_rate=0.1)
        >>> [round(p, 6) for p in opt.step([1.0], [4.0])]
        [0.9]
    """

    def __init__(self, learning_rate: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.learning_rate, self.beta1, self.beta2, self.eps = learning_rate, beta1, beta2, eps
        self._m: Any = None
        self._v: Any = None
        self._t = 0

    def step(self, params: Any, grads: Any) -> Any:
        b1, b2 = self.beta1, self.beta2
        if self._m is None:
            self._m = tree_map(lambda g: 0.0 * g, grads)
            self._v = tree_map(lambda g: 0.0 * g, grads)
        self._t += 1
        self._m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, self._m, grads)
        self._v = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, self._v, grads)
        lr = self.learning_rate * math.sqrt(1 - b2 ** self._t) / (1 - b1 ** self._t)
        return tree_map(lambda p, m, v: _like(p, p - lr * m / (np.sqrt(v) + self.eps)),
                        params, self._m, self._v)


def make_optimizer(name: str, learning_rate: float) -> SGD | Adam:
    """``"sgd"``, ``"momentum"`` (0.9) or ``"adam"`` with this learning rate.

    Example:
        >>> type(make_optimizer("adam", 0.01)).__name__
        'Adam'
    """
    if name == "sgd":
        return SGD(learning_rate)
    if name == "momentum":
        return SGD(learning_rate, momentum=0.9)
    if name == "adam":
        return Adam(learning_rate)
    raise ValueError(f"optimizer={name!r} is not one of {OPTIMIZERS}")


# -- gradients by each mode -----------------------------------------------------------


def random_direction(params: Any, rng: np.random.Generator) -> Any:
    """A standard normal vector with the structure (and leaf types) of ``params``: the
    direction of one forward-gradient step.

    Example:
        >>> v = random_direction([(np.zeros((2, 3)), np.zeros(3)), 1.0],
        ...                      np.random.default_rng(0))
        >>> v[0][0].shape, type(v[1]).__name__
        ((2, 3), 'float')
    """
    leaves, treedef = tree_flatten(params)
    out = []
    for leaf in leaves:
        if isinstance(leaf, float):
            out.append(float(rng.standard_normal()))
        else:
            out.append(rng.standard_normal(np.shape(leaf)))
    return tree_unflatten(treedef, out)


def forward_gradient_along(model: Model, params: Any, X: np.ndarray, y: np.ndarray,
                           direction: Any) -> Any:
    """``(grad . v) v`` for the direction ``v``, from ONE JVP of ``model.loss``: the
    forward-gradient estimate without drawing ``v`` (so the two can be timed apart).

    Example:
        >>> model = ArrayMLP((2, 3, 1), seed=0)
        >>> X, y = np.ones((4, 2)), np.ones(4)
        >>> v = random_direction(model.params, np.random.default_rng(0))
        >>> g = forward_gradient_along(model, model.params, X, y, v)
        >>> [W.shape for W, b in g]
        [(2, 3), (3, 1)]
    """
    _, slope = jvp(lambda p: model.loss(p, X, y), (params,), (direction,))
    return tree_map(lambda v: slope * v, direction)


def gradient_function(model: Model, mode: str = "reverse",
                      forward_strategy: str = "vectorized",
                      chunk_size: int | None = None, jit: bool = False) -> Callable[..., Any]:
    """``g(params, X, y, rng)``: the gradient of ``model.loss`` at ``params`` by ``mode``.

    - ``"reverse"``: one recording and one reverse sweep (``admodes.grad``);
    - ``"forward"``: exact, by ``admodes.jacfwd``: one JVP per parameter
      (``forward_strategy="looped"``) or one sweep carrying a tangent per parameter
      (``"vectorized"``);
    - ``"forward-gradient"``: ``(grad . v) v`` for a standard normal direction ``v`` drawn
      from ``rng``, from ONE JVP: an unbiased estimate of the gradient.

    ``chunk_size`` bounds the memory of ``"forward"`` with ``"vectorized"``: ceil(n / k)
    sweeps of k parameter directions each (see ``admodes.jacfwd``) instead of one of n.
    ``jit=True`` runs the gradient through ``admodes.jit``: staged once per batch shape,
    then replayed (the same ops in the same order, so the same numbers); the random
    directions of ``"forward-gradient"`` are drawn outside it, a fresh one every call.

    Example:
        >>> model = ArrayMLP((2, 3, 1), seed=0)
        >>> X, y = np.ones((4, 2)), np.ones(4)
        >>> g_rev = gradient_function(model, "reverse")(model.params, X, y, None)
        >>> g_fwd = gradient_function(model, "forward", "looped")(model.params, X, y, None)
        >>> bool(np.allclose(g_rev[0][0], g_fwd[0][0]))
        True
    """
    _check_choice("mode", mode, MODES)
    _check_choice("forward_strategy", forward_strategy, FORWARD_STRATEGIES)
    if not isinstance(jit, bool):
        raise TypeError(f"jit must be True or False, got {jit!r}")
    stage = _jit if jit else (lambda f: f)
    if mode == "reverse":
        g = stage(grad(model.loss))
        return lambda params, X, y, rng: g(params, X, y)
    if mode == "forward":
        jac = stage(jacfwd(model.loss, vectorized=forward_strategy == "vectorized",
                           chunk_size=chunk_size))
        return lambda params, X, y, rng: jac(params, X, y)

    along = stage(lambda params, X, y, v: forward_gradient_along(model, params, X, y, v))

    def forward_gradient(params: Any, X: np.ndarray, y: np.ndarray,
                         rng: np.random.Generator) -> Any:
        return along(params, X, y, random_direction(params, rng))

    return forward_gradient


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r}: expected a positive integer")
    return int(value)


def _check_data(model: Model, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or X.shape[1] != model.n_inputs:
        raise ValueError(f"X has shape {X.shape}; expected (n_samples, {model.n_inputs}) "
                         f"for a model with {model.n_inputs} inputs")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y has shape {y.shape}; expected ({len(X)},): one label per row "
                         f"of X")
    if len(X) == 0:
        raise ValueError("X and y are empty; expected at least one sample")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ValueError(f"y has labels {sorted(set(y.tolist()))[:5]}; expected 0 or 1")
    if not np.all(np.isfinite(X)):
        raise ValueError("X has non-finite values; expected finite features")
    return X, y


# -- training -------------------------------------------------------------------------


def fit(model: Model, X: Any, y: Any, *, mode: str = "reverse", epochs: int = 10,
        batch_size: int = 32, learning_rate: float = 1.0, seed: int = 0,
        forward_strategy: str = "vectorized", optimizer: str = "sgd",
        shuffle: bool = True, max_seconds: float | None = None,
        max_steps: int | None = None, callback: Callable[[int, Any], None] | None = None,
        progress: bool = False, jit: bool = False) -> pd.DataFrame:
    """Train ``model`` on ``(X, y)`` by mini-batch gradient descent; its ``params`` are
    updated in place. Returns the history: one row per step.

    ``mode`` picks how each batch's gradient is computed (see ``gradient_function``):
    ``"reverse"``, ``"forward"`` (exact; ``forward_strategy`` ``"looped"`` or
    ``"vectorized"``) or ``"forward-gradient"``. ``seed`` fixes the batch order (shuffled
    each epoch unless ``shuffle=False``) and, separately, the forward-gradient directions,
    so every mode sees the same batches. ``max_seconds`` stops training once the steps have
    taken that long, ``max_steps`` after that many steps (a budget that need not be a whole
    number of epochs); ``callback(step, params)`` runs after every step. ``jit=True``
    computes each gradient through ``admodes.jit`` (see ``gradient_function``), with
    the same parameters as without it, step for step. Training stops
    early, saying why in ``history.attrs["stopped"]``, when the batch loss is no longer
    finite.

    History columns: ``epoch`` and ``step`` (from 1); ``loss`` and ``accuracy`` of the
    batch before the step, from a plain evaluation; ``seconds`` the wall time of the step
    (gradient and update, nothing else); ``sweeps`` the forward plus reverse sweeps and
    ``ops`` the primitive ops of one gradient, counted by ``admodes.count_ops`` on an extra
    untimed gradient of the first batch of each size (counting slows the engines down).

    Example:
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
        >>> y = np.array([1.0, 1.0, 0.0, 0.0])
        >>> h = fit(ArrayMLP((2, 3, 1)), X, y, mode="forward", forward_strategy="looped",
        ...         epochs=2, batch_size=2)
        >>> h.sweeps.tolist()  # one JVP per parameter
        [13, 13, 13, 13]
    """
    _check_choice("mode", mode, MODES)
    _check_choice("forward_strategy", forward_strategy, FORWARD_STRATEGIES)
    _check_choice("optimizer", optimizer, OPTIMIZERS)
    epochs = _check_positive_int("epochs", epochs)
    batch_size = _check_positive_int("batch_size", batch_size)
    if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate)
            and learning_rate > 0):
        raise ValueError(f"learning_rate={learning_rate!r}: expected a positive number")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds={max_seconds!r}: expected a positive number or None")
    if max_steps is not None:
        max_steps = _check_positive_int("max_steps", max_steps)
    X, y = _check_data(model, X, y)

    batch_rng, direction_rng = (np.random.default_rng(s)
                                for s in np.random.SeedSequence(seed).spawn(2))
    gradient = gradient_function(model, mode, forward_strategy, jit=jit)
    opt = make_optimizer(optimizer, learning_rate)
    n = len(X)
    starts = range(0, n, batch_size)
    plan = ((epoch, start) for epoch in range(1, epochs + 1) for start in starts)
    if progress:
        from tqdm.auto import tqdm

        plan = tqdm(plan, total=epochs * len(starts), desc=f"fit {mode}", leave=False)
    counted: dict[int, tuple[int, int]] = {}
    rows = []
    params = model.params
    order = np.arange(n)
    elapsed = 0.0
    stopped = None
    for step, (epoch, start) in enumerate(plan, start=1):
        if start == 0 and shuffle:
            order = batch_rng.permutation(n)
        idx = order[start:start + batch_size]
        Xb, yb = X[idx], y[idx]
        if len(idx) not in counted:
            counted[len(idx)] = _count_gradient(gradient, params, Xb, yb)
        z = np.asarray(model.logits(params, Xb), dtype=float)
        loss = float(np.mean(binary_cross_entropy(z, yb)))
        if not math.isfinite(loss):
            stopped = f"the batch loss became {loss} before step {step}: diverged"
            break
        began = time.perf_counter()
        grads = gradient(params, Xb, yb, direction_rng)
        params = opt.step(params, grads)
        seconds = time.perf_counter() - began
        model.params = params
        elapsed += seconds
        sweeps, ops = counted[len(idx)]
        rows.append((epoch, step, loss, accuracy(z, yb), seconds, sweeps, ops))
        if callback is not None:
            callback(step, params)
        if max_seconds is not None and elapsed >= max_seconds:
            stopped = f"max_seconds={max_seconds} reached after step {step}"
            break
        if max_steps is not None and step >= max_steps:
            stopped = f"max_steps={max_steps} reached"
            break
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    history.attrs.update(mode=mode, forward_strategy=forward_strategy, n_params=model.n_params,
                         model=repr(model), batch_size=batch_size, learning_rate=learning_rate,
                         optimizer=optimizer, stopped=stopped)
    return history


def _count_gradient(gradient: Callable, params: Any, X: np.ndarray,
                    y: np.ndarray) -> tuple[int, int]:
    """(sweeps, primitive ops) of one gradient, from its own rng: the training's
    forward-gradient directions stay the same whether or not anything was counted."""
    with count_ops() as c:
        gradient(params, X, y, np.random.default_rng(0))
    return c.sweeps, c.total_ops
