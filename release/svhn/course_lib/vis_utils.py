"""Pictures of weights and training curves. matplotlib is imported only when plotting."""
import math

import numpy as np

# Accepted spellings of the three histories: Solver attributes and TwoLayerNet.train's
# dict use the first name, Solver.record_histories_as_npz the second.
_HISTORY_NAMES = {
    "loss": ("loss_history", "train_losses"),
    "train_acc": ("train_acc_history", "train_accs"),
    "val_acc": ("val_acc_history", "val_accs"),
}


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile N images into one square grid image, each image rescaled to [0, ubound].

    Inputs:
    - Xs: images of shape (N, H, W, C), e.g. first-layer weights reshaped to image shape.
    - ubound: each image is rescaled linearly so its minimum is 0 and its maximum ubound
      (a constant image becomes 0).
    - padding: blank pixels between neighbouring images.

    Returns:
    - grid: array of shape (G * H + (G - 1) * padding, G * W + (G - 1) * padding, C)
      with G = ceil(sqrt(N)); images fill it row by row, unused cells are 0.
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4 or len(Xs) == 0:
        raise ValueError(f"visualize_grid expects a non-empty array of shape (N, H, W, C), got shape {Xs.shape}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    num_images, height, width, channels = Xs.shape
    grid_size = math.isqrt(num_images - 1) + 1
    grid = np.zeros(
        (grid_size * height + (grid_size - 1) * padding, grid_size * width + (grid_size - 1) * padding, channels)
    )
    for index, image in enumerate(Xs):
        row, column = divmod(index, grid_size)
        top, left = row * (height + padding), column * (width + padding)
        grid[top:top + height, left:left + width] = _rescale(image, ubound)
    return grid


def plot_training_history(history, axes=None, label=None):
    """Plot the loss per iteration and the train/validation accuracy per epoch.

    Inputs:
    - history: a Solver, the dict returned by neural_net.TwoLayerNet.train, or
      the arrays saved by Solver.record_histories_as_npz (a dict or np.load result).
    - axes: matplotlib axes to draw into, e.g. to overlay several runs: two
      (loss, accuracy) or three (loss, training accuracy, validation accuracy;
      clearer when many runs share the axes); None makes a new two-panel figure.
    - label: name of this run in the legend.

    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    loss, train_acc, val_acc = (_history_series(history, kind) for kind in ("loss", "train_acc", "val_acc"))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 4))
    if len(axes) not in (2, 3):
        raise ValueError(f"axes must be two (loss, accuracy) or three (loss, train accuracy, "
                         f"validation accuracy) matplotlib axes, got {len(axes)}")
    loss_axis = axes[0]
    loss_axis.plot(loss, "o", markersize=2, alpha=0.6, label=label)
    loss_axis.set_xlabel("iteration")
    loss_axis.set_ylabel("training loss")
    if len(axes) == 2:
        prefix = f"{label} " if label else ""
        accuracy_curves = [(axes[1], train_acc, f"{prefix}train", "accuracy"),
                           (axes[1], val_acc, f"{prefix}val", "accuracy")]
    else:
        accuracy_curves = [(axes[1], train_acc, label, "training accuracy"),
                           (axes[2], val_acc, label, "validation accuracy")]
    for axis, series, curve_label, ylabel in accuracy_curves:
        axis.plot(series, "-o", label=curve_label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(ylabel)
    if label or len(axes) == 2:
        for axis in axes[1:]:
            axis.legend(loc="lower right")
    if label:
        loss_axis.legend(loc="upper right")
    return loss_axis.figure


def _rescale(image, ubound):
    low, high = image.min(), image.max()
    if high == low:
        return np.zeros(image.shape)
    return ubound * (image - low) / (high - low)


def _history_series(history, kind):
    for name in _HISTORY_NAMES[kind]:
        if hasattr(history, name):
            return np.asarray(getattr(history, name))
        if hasattr(history, "__contains__") and name in history:
            return np.asarray(history[name])
    raise ValueError(f"no {kind} history found: expected one of {', '.join(_HISTORY_NAMES[kind])}")
