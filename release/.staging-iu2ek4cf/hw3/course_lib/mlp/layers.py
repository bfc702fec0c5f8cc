"""Layers as objects, chained by ``sequential``.

Every layer has a ``name``, a dict ``params`` of its trainable arrays, a dict
``grads`` with the gradients of the same names (filled by ``backward``), and
an attribute ``meta`` holding what ``backward`` needs from the last
``forward``. ``forward(x)`` returns the output; ``backward(dout)`` takes the
upstream gradient of that output and returns the gradient with respect to
``x``. A layer's output has its input's dtype.

Helpers for the forward and backward methods: ``self.cached()`` returns
``meta`` (a clear error if forward has not run), ``check_same_shape``,
``fc.check_input``, ``check_scores_and_labels`` and ``dropout.generator``.
"""
import numpy as np

from course_lib import _checks


class Layer:
    """Shared bookkeeping of every layer: name, params, grads and the cache ``meta``."""

    # Layers that behave differently at training and test time set this, so
    # that sequential passes them the mode.
    depends_on_mode = False

    def __init__(self, name):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a layer name must be a non-empty string, got {name!r}")
        self.name = name
        self.params = {}
        self.grads = {}
        self.meta = None

    def cached(self):
        """What the last forward stored in ``meta``; an error if forward has not run."""
        if self.meta is None:
            raise RuntimeError(
                f"{type(self).__name__} layer {self.name!r}: backward called before forward"
            )
        return self.meta

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def check_same_shape(what, array, expected_shape):
    """A clear error naming `what` unless array has expected_shape."""
    _checks.check_shape(what, array, expected_shape)


class flatten(Layer):
    """Reshape each example to a row: (N, d_1, ..., d_k) -> (N, d_1 * ... * d_k)."""

    def __init__(self, name="flatten"):
        super().__init__(name)

    def forward(self, x):
        """Flatten every example of x.

        Input:
        - x: array of shape (N, d_1, ..., d_k), k >= 0.

        Returns:
        - out: array of shape (N, D) with D = d_1 * ... * d_k.
        Stores x's shape in self.meta.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.flatten.forward: not implemented yet")
        return out

    def backward(self, dout):
        """Gradient with respect to the input of the last forward.

        Input:
        - dout: upstream gradient of shape (N, D).

        Returns:
        - dx: dout reshaped to the input's shape (N, d_1, ..., d_k).
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.flatten.backward: not implemented yet")
        return dx


class fc(Layer):
    """Fully connected layer: out = x @ w + b.

    Parameters, in self.params (gradients under the same names in self.grads):
    - self.w_name = name + "_w": weights of shape (input_dim, output_dim),
      drawn from N(0, init_scale^2) with np.random;
    - self.b_name = name + "_b": biases of shape (output_dim,), zeros.
    """

    def __init__(self, input_dim, output_dim, init_scale=0.002, name="fc", dtype=np.float32):
        super().__init__(name)
        self.input_dim = _checks.check_positive_int(f"fc layer {name!r}: input_dim", input_dim)
        self.output_dim = _checks.check_positive_int(f"fc layer {name!r}: output_dim", output_dim)
        self.w_name = name + "_w"
        self.b_name = name + "_b"
        self.params[self.w_name] = (init_scale * np.random.randn(self.input_dim, self.output_dim)).astype(dtype)
        self.params[self.b_name] = np.zeros(self.output_dim, dtype=dtype)
        self.grads[self.w_name] = None
        self.grads[self.b_name] = None

    def check_input(self, x):
        """A clear error unless x has shape (N, input_dim)."""
        if np.ndim(x) != 2 or np.shape(x)[1] != self.input_dim:
            raise ValueError(
                f"fc layer {self.name!r} expects input of shape (N, {self.input_dim}), "
                f"got {np.shape(x)}; put a flatten layer before it for images"
            )

    def forward(self, x):
        """Affine map of a batch of rows.

        Input:
        - x: array of shape (N, input_dim).

        Returns:
        - out: array of shape (N, output_dim).
        Stores x in self.meta.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.fc.forward: not implemented yet")
        return out

    def backward(self, dout):
        """Gradients of the last forward.

        Input:
        - dout: upstream gradient of shape (N, output_dim).

        Returns:
        - dx: gradient with respect to x, shape (N, input_dim).
        Stores dw (input_dim, output_dim) and db (output_dim,) in
        self.grads[self.w_name] and self.grads[self.b_name].
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.fc.backward: not implemented yet")
        return dx


class leaky_relu(Layer):
    """Leaky rectified linear unit: out = x where x > 0, negative_slope * x elsewhere."""

    def __init__(self, negative_slope=0.01, name="leaky_relu"):
        super().__init__(name)
        self.negative_slope = negative_slope

    def forward(self, x):
        """Apply the leaky ReLU elementwise.

        Input:
        - x: array of any shape.

        Returns:
        - out: array of x's shape.
        Stores x in self.meta.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.leaky_relu.forward: not implemented yet")
        return out

    def backward(self, dout):
        """Gradient with respect to the input of the last forward.

        Input:
        - dout: upstream gradient, of the input's shape.

        Returns:
        - dx: array of the input's shape.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.leaky_relu.backward: not implemented yet")
        return dx


class dropout(Layer):
    """Inverted dropout with keep_prob = the probability of KEEPING a unit.

    keep_prob = 0 switches dropout off (the layer is the identity), as in the
    original course. At training time each unit is kept with probability
    keep_prob and scaled by 1 / keep_prob, so the expected output equals the
    input; at test time the layer is the identity.

    The mask comes from self.rng (seeded once by ``seed``) or, when forward is
    given a seed, from a fresh ``np.random.default_rng(seed)``, so that the same
    seed always drops the same units.
    """

    depends_on_mode = True

    def __init__(self, keep_prob=0, seed=None, name="dropout"):
        super().__init__(name)
        if not 0 <= keep_prob <= 1:
            raise ValueError(f"dropout layer {name!r}: keep_prob must be in [0, 1], got {keep_prob!r}")
        self.keep_prob = keep_prob
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def generator(self, seed=None):
        """The random generator of one forward call: self.rng, or a fresh one from seed when given."""
        return self.rng if seed is None else np.random.default_rng(seed)

    def forward(self, x, is_training=True, seed=None):
        """Drop units of x at training time.

        Inputs:
        - x: array of any shape.
        - is_training: True for the training-time behaviour, False for test time.
        - seed: optional seed of this call's mask.

        Returns:
        - out: array of x's shape and dtype.
        Stores in self.meta the factor x was multiplied by: an array of x's
        shape holding 0 or 1 / keep_prob (draw the kept units as
        ``rng.random(x.shape) < keep_prob`` with ``rng = self.generator(seed)``),
        or 1.0 when the layer is the identity.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.dropout.forward: not implemented yet")
        return out

    def backward(self, dout):
        """Gradient with respect to the input of the last forward.

        Input:
        - dout: upstream gradient, of the input's shape.

        Returns:
        - dx: array of the input's shape.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.dropout.backward: not implemented yet")
        return dx


def softmax(x):
    """Row-wise softmax, numerically stable for large scores.

    Input:
    - x: scores of shape (N, C).

    Returns:
    - probs: array of shape (N, C); every row is positive and sums to 1.
    """
    # YOUR CODE HERE
    raise NotImplementedError("mlp.layers.softmax: not implemented yet")
    return probs


class cross_entropy(Layer):
    """Softmax cross-entropy loss of class scores.

    size_average=True averages the loss (and its gradient) over the batch,
    False sums it.
    """

    def __init__(self, size_average=True):
        super().__init__("cross_entropy")
        self.size_average = size_average

    def forward(self, x, y):
        """Loss of the scores x for the labels y.

        Inputs:
        - x: scores of shape (N, C).
        - y: integer labels of shape (N,), each in [0, C).

        Returns:
        - loss: a scalar.
        Stores what backward needs (the softmax probabilities and y) in self.meta.
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.cross_entropy.forward: not implemented yet")
        return loss

    def backward(self):
        """Gradient of the last loss with respect to its scores.

        Returns:
        - dx: array of shape (N, C).
        """
        # YOUR CODE HERE
        raise NotImplementedError("mlp.layers.cross_entropy.backward: not implemented yet")
        return dx


def check_scores_and_labels(x, y):
    """Clear errors for scores that are not (N, C) or labels that are not N integers in [0, C)."""
    _checks.check_scores_and_labels(x, y, "cross_entropy")


class sequential:
    """A chain of layers; its forward runs them in order, its backward in reverse.

    ``params`` and ``grads`` are dicts gathered from the layers every time they
    are read, so they always show the layers' current arrays (an optimizer that
    updates ``layer.params`` in place is seen here at once). Change an array
    with ``assign`` or ``load``, not by assigning into ``params``.
    """

    def __init__(self, *layers):
        names = set()
        for position, layer in enumerate(layers):
            for attribute in ("name", "params", "grads", "forward", "backward"):
                if not hasattr(layer, attribute):
                    raise TypeError(
                        f"sequential argument {position} ({layer!r}) is not a layer: it has no {attribute!r}"
                    )
            if layer.name in names:
                raise ValueError(f"duplicate layer name {layer.name!r} in sequential: give every layer its own name")
            names.add(layer.name)
        self.layers = list(layers)
        self._gather("params")  # refuses a parameter name shared by two layers

    @property
    def params(self):
        """Dict from parameter name to the owning layer's array, over all layers."""
        return self._gather("params")

    @property
    def grads(self):
        """Dict from parameter name to its gradient from the last backward, over all layers."""
        return self._gather("grads")

    def _gather(self, attribute):
        gathered = {}
        for layer in self.layers:
            for name, value in getattr(layer, attribute).items():
                if name in gathered:
                    raise ValueError(f"parameter name {name!r} is used by two layers of this sequential")
                gathered[name] = value
        return gathered

    def _owner(self, name):
        for layer in self.layers:
            if name in layer.params:
                return layer
        known = ", ".join(self.params) or "none"
        raise KeyError(f"unknown parameter {name!r}; this network's parameters are: {known}")

    def assign(self, name, value):
        """Set parameter ``name`` to a copy of ``value`` (same shape; value's dtype is kept)."""
        layer = self._owner(name)
        value = np.array(value)
        check_same_shape(f"value assigned to parameter {name!r}", value, np.shape(layer.params[name]))
        layer.params[name] = value

    def assign_grads(self, name, value):
        """Set the gradient of parameter ``name`` to a copy of ``value`` (of the parameter's shape)."""
        layer = self._owner(name)
        value = np.array(value)
        check_same_shape(f"gradient of {name!r}", value, np.shape(layer.params[name]))
        layer.grads[name] = value

    def get_params(self, name):
        """The array of parameter ``name``."""
        return self._owner(name).params[name]

    def get_grads(self, name):
        """The gradient of parameter ``name`` from the last backward (None before any)."""
        return self._owner(name).grads.get(name)

    def load(self, params):
        """Set every parameter from the dict ``params``, which must name exactly this network's parameters."""
        own = self.params
        missing = sorted(set(own) - set(params))
        unexpected = sorted(set(params) - set(own))
        if missing or unexpected:
            raise KeyError(
                f"load needs exactly this network's parameters; missing: {', '.join(missing) or 'none'}; "
                f"unknown: {', '.join(unexpected) or 'none'}"
            )
        for name, value in params.items():
            self.assign(name, value)

    def forward(self, x, is_training=True, seed=None):
        """Run every layer in order on x, of shape (N, ...) as the first layer takes it.

        Mode-dependent layers (dropout) also get is_training and seed. Returns
        the last layer's output, e.g. scores of shape (N, C).
        """
        for layer in self.layers:
            if getattr(layer, "depends_on_mode", False):
                x = layer.forward(x, is_training=is_training, seed=seed)
            else:
                x = layer.forward(x)
        return x

    def backward(self, dout):
        """Run every layer's backward in reverse order.

        dout has the shape of the last forward's output; returns the gradient
        with respect to its input x, of x's shape. Fills every layer's grads.
        """
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout
