"""Architectures a checkpoint may be required to have (the manifest's checkpoint ``architecture``).

Some original assignments fix the network and let students choose only its
hyperparameters: USC's TinyNet is flatten - fc - leaky_relu - fc, trained
with SGD, and only the hidden size, batch size, epochs and learning-rate decay
are the student's. A rule reads the checkpoint's recorded class and
constructor arguments and returns why the checkpoint is not that
architecture, or None. Deleting ``architecture`` from a checkpoint in
course.toml lets students submit any architecture.
"""


def one_hidden_layer_tinynet(meta):
    """TinyNet with a single hidden layer and no dropout: flatten - fc - leaky_relu - fc."""
    if meta.get("class") != "course_lib.mlp.nets.TinyNet":
        return f"the checkpoint holds a {str(meta.get('class')).rpartition('.')[2]}, not a TinyNet"
    kwargs = meta.get("kwargs") if isinstance(meta.get("kwargs"), dict) else {}
    hidden = kwargs.get("hidden_dims")
    if not isinstance(hidden, list) or len(hidden) != 1:
        return (f"TinyNet has hidden_dims={hidden!r}; this assignment's TinyNet has exactly one hidden layer "
                "(flatten - fc - leaky_relu - fc): choose its size, not more layers")
    if kwargs.get("keep_prob", 0) not in (0, 0.0):
        return (f"TinyNet has keep_prob={kwargs.get('keep_prob')!r}; this assignment's TinyNet has no dropout "
                "(keep_prob=0)")
    return None


ARCHITECTURES = {"tinynet-one-hidden-layer": one_hidden_layer_tinynet}


def architecture_problem(name, meta):
    """Why the checkpoint described by ``meta`` is not architecture ``name`` (or None when it is)."""
    return ARCHITECTURES[name](meta)
