"""A three-layer convolutional network built from the fast conv sandwiches."""
import numpy as np

from course_lib.checkpoint import records_init_args
# A first layer's backward needs only its parameters' gradients: the *_weight_gradients sandwiches
# skip the gradient of the input images (about 40% of a convolution's backward pass).
from course_lib.conv_layer_utils import (
    _conv_batchnorm_relu_pool_weight_gradients,
    _conv_relu_pool_weight_gradients,
    conv_batchnorm_relu_pool_backward,  # noqa: F401
    conv_batchnorm_relu_pool_forward,
    conv_relu_pool_backward,  # noqa: F401
    conv_relu_pool_forward,
)
from course_lib.layer_utils import (
    affine_batchnorm_relu_backward,
    affine_batchnorm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from course_lib.layers import affine_backward, affine_forward, softmax_loss


@records_init_args
class ThreeLayerConvNet:
    """conv - [spatial batchnorm] - relu - 2x2 max pool - affine - [batchnorm] - relu - affine - softmax.

    The convolution has stride 1 and zero padding (filter_size - 1) // 2, which
    keeps the image size for odd filter sizes. The pool halves it.

    Parameters, in the dict ``self.params`` (images C x H x W, F filters of
    size K x K, hidden size M, C' classes, pooled image Hp x Wp):
    - W1: filters, shape (F, C, K, K); b1: shape (F,)
    - W2: hidden layer weights, shape (F * Hp * Wp, M); b2: shape (M,)
    - W3: output layer weights, shape (M, C'); b3: shape (C',)
    - with batchnorm: gamma1, beta1 of shape (F,) and gamma2, beta2 of shape (M,)

    ``self.bn_params`` holds the two bn_param dicts (empty without batchnorm).
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32, use_batchnorm=False):
        """Weights are drawn from N(0, weight_scale^2); biases and betas start at zero, gammas at one.

        Inputs:
        - input_dim: (C, H, W), the shape of one image.
        - num_filters: number F of convolution filters.
        - filter_size: height and width K of each filter.
        - hidden_dim: number M of units in the hidden affine layer.
        - num_classes: number of classes.
        - weight_scale: standard deviation of the initial weights.
        - reg: L2 regularization strength.
        - dtype: numpy dtype of every parameter; float64 for gradient checks.
        - use_batchnorm: normalize after the convolution and after the hidden affine layer.
        """
        if len(input_dim) != 3:
            raise ValueError(f"input_dim must be (C, H, W), got {input_dim!r}")
        self.use_batchnorm = use_batchnorm
        self.reg = reg
        self.dtype = dtype
        self.params = {}
        self.bn_params = [{"mode": "train"}, {"mode": "train"}] if use_batchnorm else []

        ### BEGIN SOLUTION
        channels, height, width = input_dim
        pad = (filter_size - 1) // 2
        # Stride-1 convolution output size, then the 2x2 stride-2 pool halves it (rounding down).
        pooled_height = (height + 2 * pad - filter_size + 1) // 2
        pooled_width = (width + 2 * pad - filter_size + 1) // 2
        pooled_size = num_filters * pooled_height * pooled_width
        self.params["W1"] = weight_scale * np.random.randn(num_filters, channels, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(pooled_size, hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        if self.use_batchnorm:
            for layer, size in ((1, num_filters), (2, hidden_dim)):
                self.params[f"gamma{layer}"] = np.ones(size)
                self.params[f"beta{layer}"] = np.zeros(size)
        ### END SOLUTION

        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Class scores, or the loss and its gradients when labels are given.

        Without labels the net runs in test mode (batchnorm uses its running
        statistics); with labels in train mode.

        Inputs:
        - X: images of shape (N, C, H, W).
        - y: integer labels of shape (N,), or None.

        Returns:
        - with y None: scores of shape (N, C').
        - otherwise (loss, grads): the mean softmax loss plus
          0.5 * reg * (|W1|^2 + |W2|^2 + |W3|^2), and a dict of gradients with
          the same keys and shapes as self.params.
        """
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        filter_size = self.params["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]

        # Forward pass: scores of shape (N, C').
        ### BEGIN SOLUTION
        if self.use_batchnorm:
            gamma1, beta1 = self.params["gamma1"], self.params["beta1"]
            gamma2, beta2 = self.params["gamma2"], self.params["beta2"]
            pooled, conv_cache = conv_batchnorm_relu_pool_forward(
                X, W1, b1, gamma1, beta1, conv_param, self.bn_params[0], pool_param)
            hidden, hidden_cache = affine_batchnorm_relu_forward(
                pooled, W2, b2, gamma2, beta2, self.bn_params[1])
        else:
            pooled, conv_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
            hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)
        ### END SOLUTION
        if y is None:
            return scores

        # Loss and the gradient of every parameter, L2 term included.
        grads = {}
        ### BEGIN SOLUTION
        loss, dscores = softmax_loss(scores, y)
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        if self.use_batchnorm:
            dpooled, grads["W2"], grads["b2"], grads["gamma2"], grads["beta2"] = (
                affine_batchnorm_relu_backward(dhidden, hidden_cache))
            # The images' gradient is not needed: the first layer's backward skips it.
            grads["W1"], grads["b1"], grads["gamma1"], grads["beta1"] = (
                _conv_batchnorm_relu_pool_weight_gradients(dpooled, conv_cache))
        else:
            dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
            grads["W1"], grads["b1"] = _conv_relu_pool_weight_gradients(dpooled, conv_cache)
        for name, weights in (("W1", W1), ("W2", W2), ("W3", W3)):
            loss += 0.5 * self.reg * np.sum(weights * weights)
            grads[name] += self.reg * weights
        ### END SOLUTION
        return loss, grads
