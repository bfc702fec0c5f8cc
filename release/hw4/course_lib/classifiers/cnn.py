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

        # YOUR CODE HERE
        raise NotImplementedError("classifiers.cnn.ThreeLayerConvNet.__init__: not implemented yet")

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
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.cnn.ThreeLayerConvNet.loss: not implemented yet")
        if y is None:
            return scores

        # Loss and the gradient of every parameter, L2 term included.
        grads = {}
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.cnn.ThreeLayerConvNet.loss: not implemented yet")
        return loss, grads
