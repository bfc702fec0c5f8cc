"""Model checkpoints as plain ``.npz`` files: no pickled objects, ever.

A checkpoint holds every parameter array as ``param/<name>``, the batchnorm
running statistics as ``state/<i>/running_mean`` and ``state/<i>/running_var``
(``i`` indexes ``model.bn_params``), and a JSON string under ``meta``::

    {"format": 1, "class": "course_lib.classifiers.fc_net.FullyConnectedNet",
     "kwargs": {"hidden_dims": [100, 100], "dtype": {"__dtype__": "float32"}, ...}}

Loading rebuilds the class (only classes defined inside ``course_lib``) from the
recorded constructor arguments, then overwrites its arrays, so a checkpoint can
be read by code that never trusts the file.

Two kinds of model are understood:

- functional nets (``course_lib.classifiers``): arrays in ``model.params`` (dict)
  and optionally ``model.bn_params`` (list of dicts); scores from ``model.loss(X)``;
- object-API nets (``course_lib.mlp.nets``): arrays in ``model.net.params``, set
  with ``model.net.load(params)``; scores from ``model.forward(X, is_training=False)``.
"""
import functools
import importlib
import inspect
import json
import zipfile
from pathlib import Path

import numpy as np

from course_lib._checks import check_positive_int

FORMAT_VERSION = 1
_RUNNING_STATS = ("running_mean", "running_var")
_RECORD_ATTRIBUTE = "_checkpoint_init_record"
_DTYPE_MARKER = "__dtype__"


def records_init_args(cls):
    """Class decorator: remember the arguments each instance was constructed with.

    The call is bound to ``__init__``'s signature (defaults filled in), so the
    record does not depend on what ``__init__`` does with its arguments.
    ``save_model`` stores the record; ``load_model`` replays it. A subclass must
    be decorated itself, or saving it is refused.
    """
    init = cls.__init__
    signature = inspect.signature(init)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values()):
        raise TypeError(f"{cls.__qualname__}.__init__ takes *args, which cannot be recorded by name")
    self_name = next(iter(signature.parameters))

    @functools.wraps(init)
    def recording_init(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        init(self, *args, **kwargs)
        arguments = {}
        for name, value in bound.arguments.items():
            if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(value)
            elif name != self_name:
                arguments[name] = value
        # Set after __init__ so that a decorated subclass calling super().__init__
        # ends up with its own record, not its parent's.
        setattr(self, _RECORD_ATTRIBUTE, (cls, arguments))

    cls.__init__ = recording_init
    return cls


def save_model(model, path):
    """Write ``model`` to ``path`` (exactly that name; parent folders are created); returns the Path."""
    meta = json.dumps({"format": FORMAT_VERSION, **model_description(model)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        np.savez(file, meta=np.array(meta), **get_model_arrays(model))
    return path


def model_description(model):
    """``{"class": qualified name, "kwargs": JSON-ready constructor arguments}`` of a recording model."""
    record = getattr(model, _RECORD_ATTRIBUTE, None)
    model_class = type(model)
    if record is None or record[0] is not model_class:
        raise ValueError(
            f"cannot describe a {model_class.__qualname__}: the class does not record its constructor "
            "arguments; decorate it with @records_init_args from course_lib.checkpoint"
        )
    class_path = f"{model_class.__module__}.{model_class.__qualname__}"
    _check_course_lib_name(class_path)
    return {"class": class_path, "kwargs": {name: _encode_argument(name, value) for name, value in record[1].items()}}


def load_model(path):
    """Rebuild the model saved at ``path``; every problem with the file is a ValueError."""
    arrays = _read_npz(path)
    meta = _parse_meta(arrays.pop("meta", None), path)
    model_class = _import_course_lib_class(meta["class"])
    kwargs = {name: _decode_argument(value, path) for name, value in meta["kwargs"].items()}
    try:
        inspect.signature(model_class).bind(**kwargs)
    except TypeError as error:
        raise ValueError(f"{path}: the stored arguments do not fit {meta['class']} ({error})") from None
    model = model_class(**kwargs)
    set_model_arrays(model, arrays, source=str(path))
    return model


def class_scores(model, X, batch_size=100):
    """Scores of ``model`` in test mode, computed ``batch_size`` examples at a time.

    Inputs:
    - model: a functional net (scores from model.loss(X)) or an object-API net
      (scores from model.forward(X, is_training=False)).
    - X: examples of shape (N, ...), N >= 1.
    - batch_size: examples per forward call.

    Returns:
    - scores: array of shape (N, C).
    """
    batch_size = check_positive_int("batch_size", batch_size)
    if len(X) == 0:
        raise ValueError("class_scores needs at least one example, X is empty")
    forward = _test_forward(model)
    return np.concatenate([forward(X[start:start + batch_size]) for start in range(0, len(X), batch_size)])


def accuracy(model, X, y, num_samples=None, batch_size=100):
    """Fraction of the examples whose highest test-mode score (see class_scores) is their label.

    Inputs:
    - model, batch_size: as class_scores.
    - X: examples of shape (N, ...); y: integer labels of shape (N,).
    - num_samples: if given and smaller than N, score a random subset
      (np.random) of that many examples.

    Returns:
    - a float in [0, 1].
    """
    if len(X) != len(y):
        raise ValueError(f"accuracy: X has {len(X)} examples but y has {len(y)} labels")
    if num_samples is not None and len(X) > num_samples:
        chosen = np.random.choice(len(X), num_samples, replace=False)
        X, y = X[chosen], y[chosen]
    predictions = np.argmax(class_scores(model, X, batch_size=batch_size), axis=1)
    return float(np.mean(predictions == y))


def get_model_arrays(model):
    """Copies of the model's arrays under their checkpoint names (``param/...``, ``state/...``)."""
    arrays = {f"param/{name}": np.array(value) for name, value in _params_of(model).items()}
    for index, bn_param in enumerate(_bn_params_of(model)):
        for key in _RUNNING_STATS:
            if key in bn_param:
                arrays[f"state/{index}/{key}"] = np.array(bn_param[key])
    return arrays


def set_model_arrays(model, arrays, source="checkpoint"):
    """Overwrite the model's arrays with copies of ``arrays`` (named as by get_model_arrays).

    The names and shapes must match the model exactly; ``source`` names the
    origin of the arrays in error messages. Running statistics absent from
    ``arrays`` are removed, so the model ends in exactly the stored state.
    Nothing is changed when a check fails.
    """
    bn_params = _bn_params_of(model)
    params, state = _split_arrays(arrays, len(bn_params), source)
    _check_params_match(_params_of(model), params, source)
    for (index, stat), value in state.items():
        current = bn_params[index].get(stat)
        if current is not None and np.shape(current) != value.shape:
            raise ValueError(
                f"{source}: bn_params[{index}]['{stat}'] has shape {value.shape}, "
                f"the model has {np.shape(current)}"
            )
    copies = {name: np.array(value) for name, value in params.items()}
    if _is_object_api(model):
        model.net.load(copies)
    else:
        model.params.update(copies)
    for index, bn_param in enumerate(bn_params):
        for stat in _RUNNING_STATS:
            if (index, stat) in state:
                bn_param[stat] = np.array(state[(index, stat)])
            else:
                bn_param.pop(stat, None)


def _split_arrays(arrays, num_bn_layers, source):
    """Sort checkpoint entries into {name: param} and {(bn index, stat): array}."""
    params, state = {}, {}
    for key, value in arrays.items():
        kind, _, name = key.partition("/")
        if kind == "param":
            params[name] = value
        elif kind == "state":
            state[_parse_state_key(name, key, num_bn_layers, source)] = value
        else:
            raise ValueError(f"{source}: unknown entry {key!r} (expected param/<name> or state/<i>/<stat>)")
    return params, state


def _is_object_api(model):
    return not isinstance(getattr(model, "params", None), dict) and hasattr(model, "net")


def _params_of(model):
    if isinstance(getattr(model, "params", None), dict):
        return model.params
    if _is_object_api(model):
        return model.net.params
    raise TypeError(
        f"{type(model).__qualname__} has neither a params dict (functional nets) "
        "nor a net with params (course_lib.mlp nets)"
    )


def _bn_params_of(model):
    return getattr(model, "bn_params", None) or []


def _test_forward(model):
    if isinstance(getattr(model, "params", None), dict) and callable(getattr(model, "loss", None)):
        return model.loss
    if callable(getattr(model, "forward", None)):
        return lambda X: model.forward(X, is_training=False)
    raise TypeError(
        f"{type(model).__qualname__} has neither params and loss(X) (functional nets) "
        "nor forward(X, is_training) (course_lib.mlp nets)"
    )


def _check_params_match(expected, stored, source):
    missing = sorted(set(expected) - set(stored))
    if missing:
        raise ValueError(f"{source}: missing parameter(s) {', '.join(missing)} that the model has")
    unexpected = sorted(set(stored) - set(expected))
    if unexpected:
        raise ValueError(f"{source}: parameter(s) {', '.join(unexpected)} that the model does not have")
    for name, value in stored.items():
        if np.shape(expected[name]) != value.shape:
            raise ValueError(
                f"{source}: parameter {name} has shape {value.shape}, "
                f"the model built from its arguments expects {np.shape(expected[name])}"
            )


def _parse_state_key(name, key, num_bn_layers, source):
    index, _, stat = name.partition("/")
    if not index.isdigit() or stat not in _RUNNING_STATS:
        raise ValueError(f"{source}: malformed state entry {key!r} (expected state/<i>/running_mean or running_var)")
    if int(index) >= num_bn_layers:
        raise ValueError(f"{source}: state entry {key!r} but the model has {num_bn_layers} batchnorm layer(s)")
    return int(index), stat


def _read_npz(path):
    if not Path(path).is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable course_lib checkpoint: {error}") from None


def _parse_meta(meta, path):
    if meta is None:
        raise ValueError(f"{path}: no 'meta' entry; not a course_lib checkpoint")
    try:
        meta = json.loads(str(meta))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: 'meta' is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise ValueError(f"{path}: unknown checkpoint format {found!r}; this course_lib reads format {FORMAT_VERSION}")
    if not isinstance(meta.get("class"), str) or not isinstance(meta.get("kwargs"), dict):
        raise ValueError(f"{path}: 'meta' needs a 'class' string and a 'kwargs' object")
    return meta


def _check_course_lib_name(class_path):
    module_name = class_path.rpartition(".")[0]
    if module_name != "course_lib" and not module_name.startswith("course_lib."):
        raise ValueError(
            f"checkpoints hold only classes defined inside course_lib, not {class_path!r}; "
            "define the model class in a course_lib module (e.g. course_lib/classifiers/cnn.py)"
        )


def _import_course_lib_class(class_path):
    _check_course_lib_name(class_path)
    module_name, _, class_name = class_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"checkpoint class {class_path!r}: cannot import {module_name} ({error})") from None
    model_class = getattr(module, class_name, None)
    if not isinstance(model_class, type):
        raise ValueError(f"checkpoint class {class_path!r}: {module_name} defines no class {class_name}")
    return model_class


def _encode_argument(name, value):
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {_DTYPE_MARKER: np.dtype(value).name}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode_argument(name, item) for item in value]
    raise ValueError(
        f"constructor argument {name}={value!r} cannot be stored in a checkpoint "
        "(allowed: numbers, strings, booleans, None, dtypes and lists of them)"
    )


def _decode_argument(value, path):
    if isinstance(value, dict) and set(value) == {_DTYPE_MARKER}:
        try:
            return np.dtype(value[_DTYPE_MARKER]).type
        except TypeError:
            raise ValueError(f"{path}: unknown dtype {value[_DTYPE_MARKER]!r} in the stored arguments") from None
    if isinstance(value, list):
        return [_decode_argument(item, path) for item in value]
    return value
