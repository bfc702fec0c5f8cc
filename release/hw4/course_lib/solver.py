"""Minibatch training loop for the functional-API models.

A model works with the Solver when it has
- ``model.params``: dict from parameter name to array;
- ``model.loss(X, y=None)``: scores (N, C) when y is None (test mode), else
  ``(loss, grads)`` with ``grads`` holding an array for every key of params.

Example::

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=10, batch_size=100)
    solver.train()
    plot_training_history(solver)   # from course_lib.vis_utils

After ``train()`` the model holds the parameters (and batchnorm running
statistics) that reached the best validation accuracy.
"""
import inspect
import json

import numpy as np

from course_lib import optim
from course_lib._checks import check_positive_int, check_training_data, python_number
from course_lib.checkpoint import accuracy, get_model_arrays, model_description, save_model, set_model_arrays

# (examples, labels) of each split the data dict must hold.
DATA_SPLITS = (("X_train", "y_train"), ("X_val", "y_val"))


class Solver:
    """Trains a model with one of the update rules of course_lib.optim.

    Every parameter keeps its dtype through training (a float32 model stays
    float32), whatever dtype the update rule computes in.

    Attributes filled in by train():
    - loss_history: the minibatch loss of every iteration.
    - train_acc_history, val_acc_history: accuracies before training and at the
      end of each epoch (num_epochs + 1 entries after one train()).
    - best_val_acc: the best validation accuracy seen.
    - best_params: copies of the parameters that reached it.
    - epoch: number of epochs completed.
    """

    def __init__(self, model, data, *, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, num_train_samples=1000, num_val_samples=None,
                 checkpoint_name=None, print_every=10, verbose=True, progress=False):
        """Inputs:
        - model: see the module docstring.
        - data: dict with X_train (N_train, ...), y_train (N_train,), X_val (N_val, ...), y_val (N_val,).
        - update_rule: name of a rule in course_lib.optim ('sgd', 'adam', ...) or a
          function update(w, dw, config) -> (next_w, config).
        - optim_config: hyperparameters given to the rule; every parameter gets its own copy.
        - lr_decay: the learning rate is multiplied by this after each epoch.
        - batch_size: examples per gradient step.
        - num_epochs: epochs run by train(); an epoch is max(N_train // batch_size, 1) steps.
        - num_train_samples: training examples used to measure training accuracy
          (None: all of them).
        - num_val_samples: validation examples used to measure validation accuracy
          (None: all of them).
        - checkpoint_name: if given, after every epoch the model is saved to
          '{checkpoint_name}_epoch_{epoch}.npz' and the histories to the matching '.json'.
        - print_every: print the loss every this many iterations (when verbose).
        - verbose: print progress.
        - progress: show a tqdm progress bar.
        """
        check_training_data(data, DATA_SPLITS, "Solver")
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.update_rule = _resolve_update_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = python_number("lr_decay", lr_decay)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.num_epochs = num_epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.checkpoint_name = checkpoint_name
        self.print_every = print_every
        self.verbose = verbose
        self.progress = progress
        self._reset()

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self._best_arrays = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    @property
    def best_params(self):
        """Copies of the parameters that reached best_val_acc ({} before training)."""
        prefix = "param/"
        return {key[len(prefix):]: value for key, value in self._best_arrays.items() if key.startswith(prefix)}

    def train(self):
        """Run num_epochs epochs, then give the model the best parameters found."""
        iterations_per_epoch = max(len(self.X_train) // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        iterations = range(num_iterations)
        if self.progress:
            from tqdm.auto import tqdm

            iterations = tqdm(iterations, desc="training", unit="step")
        if not self.val_acc_history:
            self._record_accuracies()

        for iteration in iterations:
            loss = self.step()
            if self.verbose and iteration % self.print_every == 0:
                self._log(f"(Iteration {iteration + 1} / {num_iterations}) loss: {loss:f}")
            if (iteration + 1) % iterations_per_epoch == 0:
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                self._record_accuracies()
                self._save_checkpoint()

        set_model_arrays(self.model, self._best_arrays, source="Solver best parameters")

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of X (N, ...) whose predicted class equals y (N,).

        With num_samples, a random subset of that many examples is used.
        """
        return accuracy(self.model, X, y, num_samples=num_samples, batch_size=batch_size)

    def record_histories_as_npz(self, path, seed=None):
        """Save the histories to path (.npz) under keys train_losses, train_accs, val_accs, with the run's
        configuration as a JSON string under ``config``.

        seed: the value given to np.random.seed just before the model was built;
        with it, the grader can replay the first iterations of the run.
        """
        np.savez(
            path,
            train_losses=np.asarray(self.loss_history, dtype=np.float64),
            train_accs=np.asarray(self.train_acc_history, dtype=np.float64),
            val_accs=np.asarray(self.val_acc_history, dtype=np.float64),
            config=np.array(json.dumps(self.configuration(seed))),
        )

    def configuration(self, seed=None):
        """The run as JSON-ready data: the model's class and arguments, the Solver's settings,
        the number of training and validation examples, and the seed."""
        return {
            "model": model_description(self.model),
            "solver": {
                "update_rule": getattr(self.update_rule, "__name__", repr(self.update_rule)),
                "optim_config": {name: python_number(name, value) for name, value in self.optim_config.items()},
                "lr_decay": self.lr_decay,
                "batch_size": self.batch_size,
                "num_epochs": self.num_epochs,
                "num_train_samples": self.num_train_samples,
                "num_val_samples": self.num_val_samples,
            },
            "num_train": len(self.X_train),
            "num_val": len(self.X_val),
            "seed": None if seed is None else int(seed),
        }

    def step(self):
        """One gradient step on a random minibatch (np.random); returns its loss, also appended to
        loss_history. (The grader replays the first steps of a logged run with it.)"""
        batch = np.random.choice(len(self.X_train), self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(float(loss))
        for name, value in list(self.model.params.items()):
            if name not in grads:
                raise KeyError(f"model.loss returned no gradient for parameter {name!r}")
            next_value, self.optim_configs[name] = self.update_rule(value, grads[name], self.optim_configs[name])
            # The model's dtype is the model's choice, whatever dtype a custom rule computes in.
            self.model.params[name] = np.asarray(next_value, dtype=value.dtype)
        return loss

    def _record_accuracies(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if not self._best_arrays or val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self._best_arrays = get_model_arrays(self.model)
        if self.verbose:
            self._log(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val acc: {val_acc:f}")

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        stem = f"{self.checkpoint_name}_epoch_{self.epoch}"
        save_model(self.model, f"{stem}.npz")
        summary = {
            "epoch": self.epoch,
            "update_rule": getattr(self.update_rule, "__name__", repr(self.update_rule)),
            "lr_decay": self.lr_decay,
            "batch_size": self.batch_size,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        with open(f"{stem}.json", "w") as file:
            json.dump(summary, file)

    def _log(self, message):
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(message)
        else:
            print(message)


def update_rule_names():
    """Names of the update rules defined in course_lib.optim."""
    return sorted(
        name for name, rule in vars(optim).items()
        if inspect.isfunction(rule) and rule.__module__ == optim.__name__ and not name.startswith("_")
    )


def _resolve_update_rule(update_rule):
    if callable(update_rule):
        return update_rule
    names = update_rule_names()
    if update_rule not in names:
        raise ValueError(f"unknown update_rule {update_rule!r}; choose one of {', '.join(names)} or pass a function")
    return getattr(optim, update_rule)
