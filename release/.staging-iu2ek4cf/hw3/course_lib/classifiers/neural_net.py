"""A two-layer fully connected network written directly in numpy.

The network computes scores = W2 relu(W1 x + b1) + b2 for each input row x and
is trained with a softmax loss and L2 weight decay. Weights are stored as
(outputs, inputs) matrices, as in the UCLA homework this reproduces.
"""
import numpy as np

from course_lib.checkpoint import records_init_args


@records_init_args
class TwoLayerNet:
    """Input (D) - fully connected (H) - ReLU - fully connected (C) - softmax.

    Parameters, in the dict ``self.params``:
    - W1: first layer weights, shape (H, D); b1: first layer biases, shape (H,)
    - W2: second layer weights, shape (C, H); b2: second layer biases, shape (C,)
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """Weights are drawn from N(0, std^2), biases start at zero.

        Inputs:
        - input_size: dimension D of the input.
        - hidden_size: number H of hidden units.
        - output_size: number C of classes.
        - std: standard deviation of the initial weights.
        """
        self.params = {
            "W1": std * np.random.randn(hidden_size, input_size),
            "b1": np.zeros(hidden_size),
            "W2": std * np.random.randn(output_size, hidden_size),
            "b2": np.zeros(output_size),
        }

    def loss(self, X, y=None, reg=0.0):
        """Class scores, or the loss and its gradients when labels are given.

        Inputs:
        - X: input data of shape (N, D).
        - y: integer labels of shape (N,), each in [0, C), or None.
        - reg: L2 regularization strength; the loss adds 0.5 * reg * (|W1|^2 + |W2|^2).

        Returns:
        - with y None: scores of shape (N, C).
        - otherwise (loss, grads): the mean softmax loss plus the L2 term, and a
          dict of gradients with the same keys and shapes as self.params.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        num_examples = X.shape[0]

        # Forward pass: scores of shape (N, C).
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.neural_net.TwoLayerNet.loss: not implemented yet")
        if y is None:
            return scores

        # Loss (data term plus L2 term) and the gradient of every parameter.
        grads = {}
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.neural_net.TwoLayerNet.loss: not implemented yet")
        return loss, grads

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=1e-5, num_iters=100, batch_size=200, verbose=False):
        """Minibatch stochastic gradient descent.

        An epoch is max(N // batch_size, 1) iterations; at the end of each epoch
        the accuracies are recorded and the learning rate is multiplied by
        learning_rate_decay.

        Inputs:
        - X: training data of shape (N, D); y: its labels, shape (N,).
        - X_val: validation data of shape (N_val, D); y_val: its labels, shape (N_val,).
        - learning_rate: initial step size.
        - learning_rate_decay: factor applied to the step size after each epoch.
        - reg: L2 regularization strength.
        - num_iters: number of gradient steps.
        - batch_size: examples per step, drawn with replacement.
        - verbose: print the loss every 100 iterations.

        Returns a dict with
        - loss_history: the minibatch loss of every iteration (num_iters floats),
        - train_acc_history: the accuracy on the last minibatch of each epoch,
        - val_acc_history: the validation accuracy at the end of each epoch.
        """
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train // batch_size, 1)
        loss_history, train_acc_history, val_acc_history = [], [], []

        for iteration in range(num_iters):
            # Draw a minibatch X_batch (batch_size, D), y_batch (batch_size,).
            # YOUR CODE HERE
            raise NotImplementedError("classifiers.neural_net.TwoLayerNet.train: not implemented yet")

            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(float(loss))

            # Take one gradient descent step on every parameter.
            # YOUR CODE HERE
            raise NotImplementedError("classifiers.neural_net.TwoLayerNet.train: not implemented yet")

            if verbose and iteration % 100 == 0:
                print(f"iteration {iteration} / {num_iters}: loss {loss:f}")
            if (iteration + 1) % iterations_per_epoch == 0:
                train_acc_history.append(float(np.mean(self.predict(X_batch) == y_batch)))
                val_acc_history.append(float(np.mean(self.predict(X_val) == y_val)))
                learning_rate *= learning_rate_decay

        return {
            "loss_history": loss_history,
            "train_acc_history": train_acc_history,
            "val_acc_history": val_acc_history,
        }

    def predict(self, X):
        """Predicted labels, shape (N,), for input data X of shape (N, D)."""
        # YOUR CODE HERE
        raise NotImplementedError("classifiers.neural_net.TwoLayerNet.predict: not implemented yet")
        return y_pred
