"""Parity of course_lib.fast_layers with PyTorch CPU conv2d and max_pool2d, forward and backward.

Includes sizes the naive layers refuse (windows that do not tile the padded
input): the fast layers then follow PyTorch's floor rule for the output size.
"""
import numpy as np
import pytest

from course_lib import fast_layers

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCE = {np.float64: 1e-10, np.float32: 2e-6}

CONV_CASES = [
    # (x shape, w shape, stride, pad)
    ((3, 3, 10, 10), (4, 3, 3, 3), 1, 1),
    ((2, 3, 31, 31), (5, 3, 3, 3), 2, 1),
    ((2, 2, 9, 12), (3, 2, 2, 5), 3, 2),
    ((2, 4, 8, 7), (3, 4, 4, 3), 2, 0),  # taller than wide, no padding
    ((2, 3, 10, 9), (2, 3, 3, 2), 2, 0),  # floor rule: 10 - 3 = 7 is odd, the last row is unused
    ((1, 2, 13, 11), (3, 2, 5, 4), 3, 1),  # floor rule on both axes
    # float32 with few channels runs the direct kernel: full 2x16 tiles, then partial ones.
    ((2, 3, 21, 37), (7, 3, 7, 7), 1, 3),
    # 8 filters go in blocks of 4 (3 rows x 8 columns), with a last tile of 2 rows.
    ((2, 3, 20, 19), (8, 3, 7, 7), 1, 3),
]
POOL_CASES = [
    # (x shape, pool_height, pool_width, stride)
    ((2, 3, 32, 32), 2, 2, 2),
    ((2, 2, 9, 9), 3, 3, 2),  # overlapping windows
    ((2, 2, 11, 8), 3, 2, 3),
    ((2, 3, 9, 9), 2, 2, 2),  # floor rule: the last row and column are never pooled
]


def _tensor(array):
    return torch.tensor(array, requires_grad=True)


def assert_matches_torch(mine, theirs, dtype, name):
    theirs = theirs.detach().numpy()
    assert mine.dtype == dtype and mine.shape == theirs.shape, (
        f"{name}: {mine.dtype} {mine.shape} vs torch {theirs.dtype} {theirs.shape}")
    scale = max(np.abs(theirs).max(), 1e-30)
    error = np.abs(mine.astype(np.float64) - theirs).max() / scale
    assert error < TOLERANCE[dtype], f"{name}: error {error:.2e} relative to max |value|"


@pytest.mark.parametrize("forward, backward", [
    (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast),
    (fast_layers.conv_forward_strides, fast_layers.conv_backward_strides),
], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv_matches_torch_conv2d(forward, backward, x_shape, w_shape, stride, pad, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    x_t, w_t, b_t = _tensor(x), _tensor(w), _tensor(b)
    expected = F.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    dout = rng.standard_normal(tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(dout))

    out, cache = forward(x, w, b, {"stride": stride, "pad": pad})
    assert_matches_torch(out, expected, dtype, "out")
    for grad, tensor, name in zip(backward(dout, cache), (x_t, w_t, b_t), ("dx", "dw", "db")):
        assert_matches_torch(grad, tensor.grad, dtype, name)


@pytest.mark.parametrize("forward, backward", [
    (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
    (fast_layers.max_pool_forward_im2col, fast_layers.max_pool_backward_im2col),
], ids=lambda f: f.__name__)
@pytest.mark.parametrize("x_shape, height, width, stride", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool_matches_torch_max_pool2d(forward, backward, x_shape, height, width, stride, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    x_t = _tensor(x)
    expected = F.max_pool2d(x_t, (height, width), stride=stride)
    dout = rng.standard_normal(tuple(expected.shape)).astype(dtype)
    expected.backward(torch.tensor(dout))

    out, cache = forward(x, {"pool_height": height, "pool_width": width, "stride": stride})
    assert_matches_torch(out, expected, dtype, "out")
    assert_matches_torch(backward(dout, cache), x_t.grad, dtype, "dx")


def test_reshape_pool_matches_torch_on_tiling_windows():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 12, 15)).astype(np.float32)
    x_t = _tensor(x)
    expected = F.max_pool2d(x_t, 3, stride=3)
    dout = rng.standard_normal(tuple(expected.shape)).astype(np.float32)
    expected.backward(torch.tensor(dout))
    out, cache = fast_layers.max_pool_forward_reshape(x, {"pool_height": 3, "pool_width": 3, "stride": 3})
    assert_matches_torch(out, expected, np.float32, "out")
    assert_matches_torch(fast_layers.max_pool_backward_reshape(dout, cache), x_t.grad, np.float32, "dx")
