"""Fully connected networks assembled from the layers of course_lib.layers.

Weights are stored as (inputs, outputs) matrices, the layout affine_forward uses.
Both nets follow the same protocol as every functional-API model: the arrays
live in ``self.params`` and ``loss(X, y=None)`` returns scores (test mode) or
``(loss, grads)`` (train mode), which is all the Solver needs.
"""
import numpy as np

from course_lib.checkpoint import records_init_args
from course_lib.layer_utils import (
    affine_batchnorm_relu_backward,
    affine_batchnorm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from course_lib.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    softmax_loss,
)


@records_init_args
class TwoLayerNet:
    """affine - relu - affine - softmax, with L2 regularization.

    Parameters, in the dict ``self.params``:
    - W1: first layer weights, shape (D, H); b1: first layer biases, shape (H,)
    - W2: second layer weights, shape (H, C); b2: second layer biases, shape (C,)
    """

    def __init__(self, input_dim=3 * 32 * 32, hidden_dims=100, num_classes=10,
                 dropout=0, weight_scale=1e-3, reg=0.0):
        """Weights are drawn from N(0, weight_scale^2), biases start at zero.

        Inputs:
        - input_dim: dimension D of an (flattened) input.
        - hidden_dims: number H of hidden units.
        - num_classes: number C of classes.
        - dropout: kept for the course's signature; this net has no dropout
          layer, so anything but 0 is an error (use FullyConnectedNet).
        - weight_scale: standard deviation of the initial weights.
        - reg: L2 regularization strength.
        """
        if dropout:
            raise ValueError(
                f"fc_net.TwoLayerNet has no dropout layer (got dropout={dropout}); "
                "use FullyConnectedNet([hidden_dims], dropout=p) instead"
            )
        self.reg = reg
        self.params = {}
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.TwoLayerNet.__init__: not implemented yet")

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients when labels are given.

        Inputs:
        - X: input data of shape (N, d_1, ..., d_k), flattened to (N, D).
        - y: integer labels of shape (N,), or None.

        Returns:
        - with y None: scores of shape (N, C).
        - otherwise (loss, grads): the mean softmax loss plus
          0.5 * reg * (|W1|^2 + |W2|^2), and a dict of gradients with the same
          keys and shapes as self.params.
        """
        # Forward pass: scores of shape (N, C).
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.TwoLayerNet.loss: not implemented yet")
        if y is None:
            return scores

        # Loss and the gradient of every parameter, L2 term included.
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.TwoLayerNet.loss: not implemented yet")
        return loss, grads


@records_init_args
class FullyConnectedNet:
    """{affine - [batchnorm] - relu - [dropout]} x (L - 1) - affine - softmax.

    Parameters, in the dict ``self.params`` (layers numbered 1 .. L):
    - Wi: weights of layer i, shape (inputs of layer i, outputs of layer i)
    - bi: biases of layer i, shape (outputs of layer i,)
    - gammai, betai (batchnorm only, i < L): scale and shift, shape (outputs of layer i,)

    ``self.bn_params`` holds one bn_param dict per hidden layer (empty without
    batchnorm) and ``self.dropout_param`` the dropout settings (empty without
    dropout); loss() sets their 'mode' on every call.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0,
                 use_batchnorm=False, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        """Weights are drawn from N(0, weight_scale^2); biases and betas start at zero, gammas at one.

        Inputs:
        - hidden_dims: list of the sizes of the L - 1 hidden layers.
        - input_dim: dimension D of an (flattened) input.
        - num_classes: number C of classes.
        - dropout: probability of dropping a hidden unit, 0 <= dropout < 1; 0 means no dropout.
        - use_batchnorm: put batch normalization after every hidden affine layer.
        - reg: L2 regularization strength.
        - weight_scale: standard deviation of the initial weights.
        - dtype: numpy dtype of every parameter; float64 for gradient checks.
        - seed: fixes the dropout masks (for gradient checks); None draws new masks.
        """
        if isinstance(hidden_dims, (int, np.integer)):
            raise TypeError(f"hidden_dims must be a list of layer sizes, e.g. [{hidden_dims}], got an int")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is the probability of dropping a unit and must be in [0, 1), got {dropout}")
        self.use_batchnorm = use_batchnorm
        self.use_dropout = dropout > 0
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.__init__: not implemented yet")
        if self.use_batchnorm:
            # gamma and beta of every hidden layer (all layers but the last).
            # YOUR CODE HERE
            raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.__init__[batchnorm]: not implemented yet")

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if self.use_batchnorm:
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]

        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients when labels are given.

        Without labels the net runs in test mode (batchnorm uses its running
        statistics, dropout is off); with labels in train mode.

        Inputs:
        - X: input data of shape (N, d_1, ..., d_k), flattened to (N, D).
        - y: integer labels of shape (N,), or None.

        Returns:
        - with y None: scores of shape (N, C).
        - otherwise (loss, grads): the mean softmax loss plus 0.5 * reg * sum_i |Wi|^2,
          and a dict of gradients with the same keys and shapes as self.params.
        """
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        # Forward pass: each hidden layer leaves its output in hidden and its
        # cache in cache (collected in hidden_caches); dropout caches go to dropout_caches.
        hidden = X
        hidden_caches, dropout_caches = [], []
        for layer in range(1, self.num_layers):
            weights, biases = self.params[f"W{layer}"], self.params[f"b{layer}"]
            if self.use_batchnorm:
                # YOUR CODE HERE
                raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss[batchnorm]: not implemented yet")
            else:
                # YOUR CODE HERE
                raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss: not implemented yet")
            hidden_caches.append(cache)
            if self.use_dropout:
                # YOUR CODE HERE
                raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss[dropout]: not implemented yet")
        # The last affine layer gives the scores, shape (N, C).
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss: not implemented yet")
        if y is None:
            return scores

        # Backward pass: the data loss and the last layer's gradients first,
        # then each hidden layer from the top down, then the L2 term.
        grads = {}
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss: not implemented yet")
        for layer in range(self.num_layers - 1, 0, -1):
            cache = hidden_caches[layer - 1]
            if self.use_dropout:
                # YOUR CODE HERE
                raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss[dropout]: not implemented yet")
            if self.use_batchnorm:
                # YOUR CODE HERE
                raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss[batchnorm]: not implemented yet")
            else:
                # YOUR CODE HERE
                raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss: not implemented yet")
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.fc_net.FullyConnectedNet.loss: not implemented yet")
        return loss, grads
