"""Networks of the object API: each is a ``sequential`` of layers in ``self.net``.

A net's ``__init__`` lists its layers; ``forward`` and ``backward`` run the
sequential. Layer names fix the parameter names (``fc1_w``, ``fc1_b``, ...),
which checkpoints and the grader rely on: a checkpoint is reloaded by
building the class from its recorded arguments and loading the arrays into
it, so the layers must follow from the arguments exactly as documented.
"""
import numpy as np

from course_lib.checkpoint import records_init_args
from course_lib.mlp.layers import dropout, fc, flatten, leaky_relu, sequential


class Net:
    """Forward and backward of a network whose layers are the sequential ``self.net``."""

    def forward(self, x, is_training=True, seed=None):
        """Scores of shape (N, C) for inputs x of shape (N, ...); is_training and seed reach the dropout layers."""
        return self.net.forward(x, is_training=is_training, seed=seed)

    def backward(self, dout):
        """Backpropagate dout (N, C) through every layer; fills the layers' grads, returns dx of x's shape."""
        return self.net.backward(dout)


@records_init_args
class TestFCReLU(Net):
    """fc - leaky_relu.

    Layers: fc(input_dim, output_dim) named "fc1" (default init_scale), then
    leaky_relu named "relu1". Input (N, input_dim), output (N, output_dim).
    """

    __test__ = False  # a network, not a pytest test class, despite its name

    def __init__(self, input_dim=15, output_dim=5, dtype=np.float32):
        # YOUR CODE HERE
        raise NotImplementedError("mlp.nets.TestFCReLU.__init__: not implemented yet")
        self.net = sequential(*layers)


@records_init_args
class SmallFullyConnectedNetwork(Net):
    """fc - leaky_relu - fc.

    Layers: fc(input_dim, hidden_dim, init_scale) "fc1", leaky_relu "relu1",
    fc(hidden_dim, num_classes, init_scale) "fc2". With the defaults:
    fc(4, 30) - leaky_relu - fc(30, 7).
    """

    def __init__(self, input_dim=4, hidden_dim=30, num_classes=7, init_scale=0.02, dtype=np.float32):
        # YOUR CODE HERE
        raise NotImplementedError("mlp.nets.SmallFullyConnectedNetwork.__init__: not implemented yet")
        self.net = sequential(*layers)


@records_init_args
class DropoutNet(Net):
    """Three fc layers with dropout after each hidden activation.

    Layers: flatten "flat"; fc(15, 20) "fc1", leaky_relu "relu1",
    dropout(keep_prob, seed) "dropout1"; fc(20, 30) "fc2", leaky_relu "relu2",
    dropout(keep_prob, seed) "dropout2"; fc(30, 10) "fc3". Every fc uses
    init_scale. Input (N, 15) or any (N, ...) with 15 values per example.
    """

    def __init__(self, keep_prob=0, seed=None, init_scale=5e-2, dtype=np.float32):
        # YOUR CODE HERE
        raise NotImplementedError("mlp.nets.DropoutNet.__init__: not implemented yet")
        self.net = sequential(*layers)


@records_init_args
class TinyNet(Net):
    """The SVHN classifier: flatten - {fc - leaky_relu - dropout} x len(hidden_dims) - fc.

    Layers: flatten "flat"; for i = 1..H (H = len(hidden_dims)): fc "fc<i>" to
    hidden_dims[i-1] units, leaky_relu "relu<i>", dropout(keep_prob, seed)
    "dropout<i>"; then fc "fc<H+1>" to num_classes scores. Each fc with fan-in
    D is initialized with init_scale sqrt(2 / D) (He initialization), which
    keeps the activations' scale steady through the layers. Input
    (N, 32, 32, 3) images (or anything with input_dim values per example).
    """

    def __init__(self, hidden_dims=(512, 256), keep_prob=0, seed=None, input_dim=3 * 32 * 32,
                 num_classes=10, dtype=np.float32):
        # YOUR CODE HERE
        raise NotImplementedError("mlp.nets.TinyNet.__init__: not implemented yet")
        self.net = sequential(*layers)
