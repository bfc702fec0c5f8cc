"""Minibatch training and accuracy of object-API networks."""
import numpy as np

from course_lib._checks import check_positive_int, check_training_data
from course_lib.checkpoint import accuracy

# (examples, labels) of each split the data dict must hold.
DATA_SPLITS = (("data_train", "labels_train"), ("data_val", "labels_val"))
# Training accuracy is estimated on this many random training examples per epoch.
TRAIN_ACC_SAMPLES = 1000


def compute_acc(model, data, labels, num_samples=None, batch_size=100):
    """Accuracy of model on (data, labels), scored in test mode.

    Inputs:
    - model: a net with forward(x, is_training=False) -> scores (N, C).
    - data: array of shape (N, ...), N >= 1; labels: integer array of shape (N,).
    - num_samples: if given and smaller than N, score a random subset of that size.
    - batch_size: examples per forward call.

    Returns:
    - the fraction (float in [0, 1]) of examples whose highest score is their label.
    """
    return accuracy(model, data, labels, num_samples=num_samples, batch_size=batch_size)


def training_arrays(data):
    """(data_train, labels_train, data_val, labels_val) of a data dict, checked.

    The dict holds data_train, labels_train, data_val and labels_val (as
    SVHN_data returns them), or, as in the original course, data_train and
    data_val (and data_test, unused here) as (examples, labels) pairs.
    """
    if isinstance(data, dict) and any(isinstance(data.get(split), (tuple, list)) for split, _ in DATA_SPLITS):
        data = paired_splits(data)
    check_training_data(data, DATA_SPLITS, "train_net")
    return tuple(data[key] for split in DATA_SPLITS for key in split)


def paired_splits(data):
    """The original course's {"data_train": (X, y), "data_val": (X, y), ...} as separate keys."""
    arrays = {}
    for examples, labels in DATA_SPLITS:
        pair = data.get(examples)
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"train_net: {examples} must be an (examples, labels) pair like the other splits, "
                             f"got {type(pair).__name__}")
        arrays[examples], arrays[labels] = pair
    return arrays


def train_net(data, model, loss_func, optimizer, batch_size, max_epochs,
              lr_decay=1.0, lr_decay_every=1000, show_every=10, verbose=False):
    """Train model with minibatches, validating after every epoch.

    Inputs:
    - data: dict with data_train (N, ...), labels_train (N,), data_val, labels_val;
      or the original course's dict of (examples, labels) pairs data_train,
      data_val (and data_test, unused).
    - model: a net with forward(x, is_training), backward(dout) and net.params.
    - loss_func: e.g. cross_entropy(); forward(scores, labels) -> loss, backward() -> dscores.
    - optimizer: e.g. Adam(model.net, ...); step() updates the parameters.
    - batch_size: examples per iteration; an epoch is max(N // batch_size, 1)
      iterations over a fresh random permutation (np.random) of the training set.
    - max_epochs: number of epochs.
    - lr_decay, lr_decay_every: at the start of every epoch e > 0 with
      e % lr_decay_every == 0, multiply optimizer.lr by lr_decay.
    - show_every, verbose: if verbose, print the loss every show_every
      iterations and the accuracies after every epoch (one line each; the
      wording is yours); if not, print nothing.

    After each epoch, record the training accuracy (compute_acc on
    TRAIN_ACC_SAMPLES random training examples) and the validation accuracy
    (all of data_val); keep copies of model.net.params from the epoch with the
    highest validation accuracy (the earliest one on ties).

    Returns:
    - opt_params: dict of parameter copies from the best validation epoch.
    - loss_hist: list of floats, the loss of every iteration.
    - train_acc_hist, val_acc_hist: lists of floats, one per epoch.
    """
    # YOUR CODE HERE
    raise NotImplementedError("mlp.train.train_net: not implemented yet")
    return opt_params, loss_hist, train_acc_hist, val_acc_hist
