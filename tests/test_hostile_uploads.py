"""Hostile uploads: archives, checkpoints, worker replies and fabrications, each graded to its exact score.

Every case is the reference submission of hw3 with one hostile change, made
in code below (the only stored payload is ``tests/hostile_uploads/zeros-2gb.bz2``,
2 GiB of zeros in a few hundred bytes of bzip2). Each is graded in full by
hw3's autograder, as Gradescope would: the tests it names score 0 and every
other test full marks, results.json is valid and under 200 kB, the summary
says what happened, and the grading process stays under 768 MB resident and
600 MB written, within 90 s. The readers themselves are unit-tested at the end.
"""
import bz2
import io
import json
import re
import shutil
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from autograder import sandbox
from autograder import archives
from autograder.harness.judge import CheckResult, Judge, Verdict
from autograder.harness.report import RESULTS_LIMIT, Report, markdown_text
from autograder.local import grade_submission
from autograder.suites.masks import inverted_dropout_gradient
from autograder.suites.spec import Check, numeric
from tests.autograder_support.artifacts import shared_artifacts
from tests.autograder_support.submissions import SCHEMA, validate_results
from tests.hostile import NEURAL_NET
from tests.test_hostile import TEST_SECONDS, manifest_points, with_test_seconds

BOMB = (Path(__file__).with_name("hostile_uploads") / "zeros-2gb.bz2").read_bytes()
MEMORY_LIMIT_MB = 768
WRITTEN_LIMIT_MB = 600
SECONDS_LIMIT = 90
PEAK_LINE = re.compile(r"peak memory: grading process (\d+) MB, largest worker \d+ MB; "
                       r"written by the grading process: (\d+) MB")
NEURAL_NET_FILE = "classifiers/neural_net.py"
TWO_LAYER_CHECKPOINT = "checkpoints/two_layer_best_net.npz"


# Building archives byte by byte (zipfile cannot write encrypted or pre-compressed members) -----


def raw_zip(members):
    """A zip of (name, method, stored bytes, declared size, flags) members, exactly as given
    (the CRC is right for stored members only)."""
    out, directory = io.BytesIO(), []
    for name, method, data, declared, flags in members:
        encoded = name.encode()
        offset = out.tell()
        crc = zlib.crc32(data) if method == zipfile.ZIP_STORED else 0
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, flags, method, 0, 0, crc, len(data), declared,
                              len(encoded), 0) + encoded + data)
        directory.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc, len(data),
                                     declared, len(encoded), 0, 0, 0, 0, 0o644 << 16, offset) + encoded)
    start = out.tell()
    out.write(b"".join(directory))
    out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), out.tell() - start,
                          start, 0))
    return out.getvalue()


def deflate_bomb(megabytes):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_header(dtype, shape):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def stored(name, data):
    return name, zipfile.ZIP_STORED, data, len(data), 0


def rewrite_checkpoint(path, replace):
    """The checkpoint at ``path`` rewritten with ``replace(members)`` (a list of raw_zip members)."""
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, zipfile.ZIP_STORED, archive.read(info), info.file_size, 0)
                   for info in archive.infolist()]
    path.write_bytes(raw_zip(replace(members)))


def move_into_zip(submission, relative, zip_name, method=zipfile.ZIP_STORED, flags=0, data=None):
    """Move course_lib/<relative> into a zip of the upload, stored with ``method`` and ``flags`` as given."""
    source = submission / "course_lib" / relative
    content = source.read_bytes()
    source.unlink()
    stored = {zipfile.ZIP_BZIP2: bz2.compress, zipfile.ZIP_LZMA: lzma_raw}.get(method, lambda body: body)(content)
    member = (f"course_lib/{relative}", method, data if data is not None else stored, len(content), flags)
    (submission / zip_name).write_bytes(raw_zip([member]))


def lzma_raw(body):
    """A zip LZMA member: version, properties size, properties, then the raw LZMA1 stream."""
    import lzma

    compressor = lzma.LZMACompressor(lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1}])
    properties = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1})
    return struct.pack("<BBH", 9, 4, len(properties)) + properties + compressor.compress(body) + compressor.flush()


# The cases -------------------------------------------------------------------------------


def encrypted_member(submission):
    move_into_zip(submission, NEURAL_NET_FILE, "homework.zip", flags=0x1)


def bzip2_member(submission):
    move_into_zip(submission, NEURAL_NET_FILE, "homework.zip", method=zipfile.ZIP_BZIP2)


def lzma_member(submission):
    move_into_zip(submission, NEURAL_NET_FILE, "homework.zip", method=zipfile.ZIP_LZMA)


def bzip2_bomb_in_inner_zip(submission):
    inner = raw_zip([("data/zeros.bin", zipfile.ZIP_BZIP2, BOMB, 100, 0)])
    (submission / "extras.zip").write_bytes(raw_zip([("inner.zip", zipfile.ZIP_STORED, inner, len(inner), 0)]))


def deflate_bomb_in_inner_zip(submission):
    bomb = deflate_bomb(512)  # declared honestly: zipfile itself stops at a smaller declared size
    (submission / "extras.zip").write_bytes(raw_zip([("zeros.bin", zipfile.ZIP_DEFLATED, bomb, 512 << 20, 0)]))


def bzip2_bomb_in_checkpoint_meta(submission):
    rewrite_checkpoint(submission / TWO_LAYER_CHECKPOINT,
                       lambda members: [(name, zipfile.ZIP_BZIP2, BOMB, 100, 0) if name == "meta.npy" else member
                                        for member in members for name in [member[0]]])


def object_dtype_checkpoint(submission):
    rewrite_checkpoint(submission / TWO_LAYER_CHECKPOINT,
                       lambda members: members + [stored("param/extra.npy",
                                                         npy_bytes(np.array([1, None], dtype=object), True))])


def non_npy_checkpoint_member(submission):
    rewrite_checkpoint(submission / TWO_LAYER_CHECKPOINT,
                       lambda members: members + [stored("notes.txt", b"hello")])


def huge_shape_checkpoint(submission):
    header = npy_header("<f8", (10 ** 6, 10 ** 6))
    rewrite_checkpoint(submission / TWO_LAYER_CHECKPOINT,
                       lambda members: [(name, zipfile.ZIP_STORED, header, len(header), 0)
                                        if name == "param/W1.npy" else member
                                        for member in members for name in [member[0]]])


def ten_thousand_files(submission):
    folder = submission / "course_lib" / "scratch"
    for index in range(10_000):
        part = folder / f"part{index // 500}"
        part.mkdir(parents=True, exist_ok=True)
        (part / f"note{index}.py").write_text("x = 1\n")


def five_hundred_inner_zips(submission):
    folder = submission / "zips"
    folder.mkdir()
    for index in range(500):
        with zipfile.ZipFile(folder / f"part{index}.zip", "w") as archive:
            archive.writestr(f"course_lib/helper{index}.py", "x = 1\n")


def deeply_nested_zips(submission):
    data = raw_zip([("core.bin", zipfile.ZIP_BZIP2, BOMB, 100, 0)])
    for level in range(30):
        data = raw_zip([(f"level{level}.zip", zipfile.ZIP_STORED, data, len(data), 0)])
    (submission / "nested.zip").write_bytes(data)


def absurd_paths(submission):
    deep = "/".join(["d"] * 400) + "/course_lib/classifiers/neural_net.py"
    long_name = "n" * 5000 + ".py"
    escaping = "../../../../etc/course_lib/layers.py"
    members = [(name, zipfile.ZIP_STORED, b"raise SystemExit\n", 17, 0) for name in (deep, long_name, escaping)]
    (submission / "paths.zip").write_bytes(raw_zip(members))
    folder = submission
    for _ in range(60):
        folder = folder / "deep"
    folder.mkdir(parents=True)
    (folder / "layers.py").write_text("raise SystemExit\n")


def duplicate_names(submission):
    content = (submission / "course_lib" / NEURAL_NET_FILE).read_bytes()
    (submission / "course_lib" / NEURAL_NET_FILE).unlink()
    member = (f"course_lib/{NEURAL_NET_FILE}", zipfile.ZIP_STORED, content, len(content), 0)
    (submission / "homework.zip").write_bytes(raw_zip([member, member]))


def hostile_names(submission):
    (submission / "[click](javascript:alert(1)) <img src=x onerror=alert(1)> | `code`.py").write_text("x = 1\n")
    (submission / "course_lib" / "[evil](http:x) <b>|.py").write_text("x = 1\n")


def append_code(relative, code):
    def adjust(submission):
        with open(submission / "course_lib" / relative, "a") as file:
            file.write(code)
    return adjust


# The worker's numpy.savez, patched by code in neural_net.py, writes a bzip2 bomb as the outputs archive.
OUTPUTS_BOMB = f'''
import numpy as _np
import struct as _struct

_BOMB = {BOMB!r}


def _bomb_savez(file, *args, **kwargs):
    name = b"out.npy"
    local = _struct.pack("<4s5H3I2H", b"PK\\x03\\x04", 20, 0, 12, 0, 0, 0, len(_BOMB), 100, len(name), 0)
    central = _struct.pack("<4s6H3I5H2I", b"PK\\x01\\x02", 20, 20, 0, 12, 0, 0, 0, len(_BOMB), 100, len(name),
                           0, 0, 0, 0, 0, 0)
    end = _struct.pack("<4s4H2IH", b"PK\\x05\\x06", 0, 0, 1, 1, len(central) + len(name),
                       len(local) + len(name) + len(_BOMB), 0)
    file.write(local + name + _BOMB + central + name + end)


_np.savez = _bomb_savez
'''

# json.dumps in the worker, patched by code in neural_net.py: every reply is nested a million levels deep.
NESTED_REPLY = '''
import json as _json

_json.dumps = lambda *args, **kwargs: "[" * 1000000 + "]" * 1000000
'''

# relu_backward forgets the mask on the relu test's input (shape (5, 6), so that the nets using relu are
# not affected), and the worker's nudged forward passes are faked so that the numerical gradient of
# "the forward" agrees with it there: the forward looks like the identity.
PATCHED_NUMERIC = '''
import sys as _sys


def _identity_nudges(forward, x, h):
    plus = _np_module.stack([_np_module.zeros(x.shape) for _ in range(x.size)]).reshape(x.shape + x.shape)
    minus = plus.copy()
    for flat, index in enumerate(_np_module.ndindex(x.shape)):
        plus[index + index] = x[index] + h
        minus[index + index] = x[index] - h
    return plus, minus


import numpy as _np_module

for _module in list(_sys.modules.values()):
    for _name in ("nudge_each_entry", "central_differences"):
        _original = getattr(_module, _name, None)
        if callable(_original) and _module is not _sys.modules[__name__]:
            def _patched(forward, x, h, _original=_original):
                # only relu's input (5, 6): every other gradient of the upload keeps its honest check
                return _identity_nudges(forward, x, h) if x.shape == (5, 6) else _original(forward, x, h)
            setattr(_module, _name, _patched)


_honest_relu_backward = relu_backward


def relu_backward(dout, cache):
    return dout.copy() if dout.shape == (5, 6) else _honest_relu_backward(dout, cache)
'''

# train() returns a made-up history and never trains.
MADE_UP_HISTORY = '''

def _fabricated_train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95, reg=5e-6,
                      num_iters=100, batch_size=200, verbose=False):
    epochs = num_iters // max(len(X) // batch_size, 1)
    return {"loss_history": list(np.linspace(2.0, 0.1, num_iters)),
            "train_acc_history": list(np.linspace(0.3, 0.99, epochs)),
            "val_acc_history": list(np.linspace(0.3, 0.98, epochs))}


TwoLayerNet.train = _fabricated_train
'''

# Every student function of hw3 returns zeros of the right shapes (and constructors zero their parameters).
CONSTANT_ZERO = '''

import numpy as _np


def _zeroed(value):
    if isinstance(value, _np.ndarray):
        return _np.zeros_like(value)
    if isinstance(value, dict):
        return {key: _zeroed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_zeroed(item) for item in value)
    if isinstance(value, (float, int, _np.number)) and not isinstance(value, bool):
        return type(value)(0)
    return value


def _zeroing(function):
    def zeroed(*args, **kwargs):
        result = function(*args, **kwargs)
        owner = args[0] if args else None
        for name, item in list(getattr(owner, "params", {}).items()):
            owner.params[name] = _zeroed(item)
        return _zeroed(result)
    return zeroed


for _name, _value in list(globals().items()):
    if isinstance(_value, type) and _value.__module__ == __name__:
        for _method in ("__init__", "loss", "train", "predict"):
            if _method in vars(_value):
                setattr(_value, _method, _zeroing(vars(_value)[_method]))
    elif callable(_value) and getattr(_value, "__module__", None) == __name__ and not _name.startswith("_"):
        globals()[_name] = _zeroing(_value)
'''


def zero_checkpoints(submission):
    for path in (submission / "checkpoints").glob("*.npz"):
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] if key == "meta" else np.zeros_like(archive[key]) for key in archive.files}
        np.savez(path, **arrays)


def constant_zero(submission):
    for relative in ("layers.py", NEURAL_NET_FILE, "classifiers/fc_net.py"):
        append_code(relative, CONSTANT_ZERO)(submission)
    zero_checkpoints(submission)


# A function no hostile upload below touches: its test must keep full marks beside every attack.
CONTROL = "layers.affine_forward"
CHECKPOINT = "checkpoint two_layer_best_net"


@dataclass(frozen=True)
class Upload:
    """One hostile upload, the tests it costs (by function, or by title), and what the summary must say.

    Only the tests of ``zero``, ``also`` and the CONTROL function are graded (with ``everything``, all
    of them): the rest of the upload's effects show in the summary, which every grading writes.
    """

    name: str
    adjust: object
    zero: tuple = ()
    zero_tests: tuple = ()
    summary: tuple = ()
    feedback: dict = field(default_factory=dict)
    everything: bool = False  # every test runs and scores 0
    also: tuple = ()  # functions (or checkpoint tests) graded besides zero and the control

    @property
    def only(self):
        return () if self.everything else (CONTROL, *self.zero, *self.also)


TWO_LAYER_TEST = "checkpoint two_layer_best_net: held-out accuracy"
TRAIN_TEST = "classifiers.neural_net.TwoLayerNet.train: learns an easy problem"
UPLOADS = [
    Upload("encrypted_member", encrypted_member, zero=NEURAL_NET, summary=("is encrypted", "homework.zip")),
    Upload("bzip2_member", bzip2_member, zero=NEURAL_NET, summary=("compressed with bzip2",)),
    Upload("lzma_member", lzma_member, zero=NEURAL_NET, summary=("compressed with lzma",)),
    Upload("duplicate_names", duplicate_names, zero=NEURAL_NET, summary=("appears 2 times",)),
    Upload("bzip2_bomb_in_inner_zip", bzip2_bomb_in_inner_zip,
           summary=("extras.zip/inner.zip/data/zeros.bin is compressed with bzip2",)),
    Upload("deflate_bomb_in_inner_zip", deflate_bomb_in_inner_zip, summary=("zeros.bin unpacks to more than",)),
    Upload("bzip2_bomb_in_checkpoint_meta", bzip2_bomb_in_checkpoint_meta, zero_tests=(TWO_LAYER_TEST,), also=(CHECKPOINT,),
           feedback={TWO_LAYER_TEST: "meta.npy is compressed with bzip2"}),
    Upload("object_dtype_checkpoint", object_dtype_checkpoint, zero_tests=(TWO_LAYER_TEST,), also=(CHECKPOINT,),
           feedback={TWO_LAYER_TEST: "dtype object"}),
    Upload("non_npy_checkpoint_member", non_npy_checkpoint_member, zero_tests=(TWO_LAYER_TEST,), also=(CHECKPOINT,),
           feedback={TWO_LAYER_TEST: "notes.txt is not an .npy array"}),
    Upload("huge_shape_checkpoint", huge_shape_checkpoint, zero_tests=(TWO_LAYER_TEST,), also=(CHECKPOINT,),
           feedback={TWO_LAYER_TEST: "param/W1: its shape (1000000, 1000000)"}),
    Upload("bzip2_bomb_in_worker_outputs", append_code(NEURAL_NET_FILE, OUTPUTS_BOMB), zero=NEURAL_NET),
    Upload("nested_worker_reply", append_code(NEURAL_NET_FILE, NESTED_REPLY), zero=NEURAL_NET),
    Upload("ten_thousand_files", ten_thousand_files, summary=("9980 more .py file(s) in course_lib folders",)),
    Upload("five_hundred_inner_zips", five_hundred_inner_zips, summary=("480 more .py file(s) in course_lib folders",)),
    Upload("deeply_nested_zips", deeply_nested_zips),
    Upload("absurd_paths", absurd_paths, summary=("leads outside the archive", "longer than 300 characters")),
    Upload("hostile_names", hostile_names, summary=("\\[evil\\](http:x) \\<b\\>\\|.py",)),
    # relu_backward itself is right: only its test against the (patched) numerical gradient loses its points.
    Upload("patched_numerical_gradient", append_code("layers.py", PATCHED_NUMERIC),
           zero_tests=("layers.relu_backward: gradients",), also=("layers.relu_backward",)),
    Upload("made_up_history", append_code(NEURAL_NET_FILE, MADE_UP_HISTORY),
           zero=("classifiers.neural_net.TwoLayerNet.train",)),
    Upload("constant_zero_network", constant_zero, everything=True),
]


@pytest.fixture(scope="module")
def hw3(tmp_path_factory, standin_dir):
    built = shared_artifacts(tmp_path_factory, standin_dir)["hw3"]
    zip_path = with_test_seconds(built.zip, tmp_path_factory.mktemp("uploads") / "hw3.zip", TEST_SECONDS)
    return zip_path, built.reference


def graded(upload, hw3, tmp_path):
    zip_path, reference = hw3
    submission = tmp_path / "submission"
    shutil.copytree(reference, submission)
    upload.adjust(submission)
    log_path = tmp_path / "log.txt"
    started = time.monotonic()
    results = grade_submission("hw3", submission, zip_path, log_path=log_path, only=upload.only)
    return validate_results(results), log_path.read_text(), time.monotonic() - started


def graded_here(upload, test):
    return not upload.only or test["extra_data"]["function"] in upload.only


def expected_score(upload, test):
    if upload.everything or test["extra_data"]["function"] in upload.zero or test["name"] in upload.zero_tests:
        return 0.0
    return test["max_score"] if graded_here(upload, test) else 0.0


@pytest.mark.parametrize("upload", UPLOADS, ids=lambda upload: upload.name)
def test_hostile_upload_gets_exactly_its_score_within_memory_disk_and_time(upload, hw3, tmp_path):
    check_hostile_upload(upload, hw3, tmp_path)


def check_hostile_upload(upload, hw3, tmp_path):
    """Grade ``upload``: exactly its score, its summary and feedback, no markup, within memory, disk and time."""
    results, log, seconds = graded(upload, hw3, tmp_path)
    wrong = {test["name"]: test["score"] for test in results["tests"] if test["score"] != expected_score(upload, test)}
    assert not wrong, f"scores other than expected: {wrong}\n{log[-3000:]}"
    assert results["score"] == round(sum(expected_score(upload, test) for test in results["tests"]), 4)
    if upload.everything:
        assert results["score"] == 0.0 and sum(manifest_points().values()) > 0
    control = [t for t in results["tests"] if t["extra_data"]["function"] == CONTROL]
    assert upload.everything or (control and all(t["score"] == t["max_score"] > 0 for t in control))
    for text in upload.summary:
        assert text in results["output"], results["output"]
    for title, text in upload.feedback.items():
        assert text in next(test["output"] for test in results["tests"] if test["name"] == title)
    assert "The autograder itself failed" not in results["output"]
    assert "<b>" not in results["output"] and "<img" not in results["output"]
    assert not [test["name"] for test in results["tests"] if test["extra_data"]["failure"] == "harness"]
    assert len(json.dumps(results, indent=2)) < RESULTS_LIMIT
    memory, written = map(int, PEAK_LINE.search(log).groups())
    assert memory < MEMORY_LIMIT_MB and written < WRITTEN_LIMIT_MB, (memory, written)
    assert seconds < SECONDS_LIMIT
    return results


# The readers on their own ------------------------------------------------------------------


def test_the_stored_bomb_is_one():
    produced = bz2.BZ2Decompressor().decompress(BOMB, max_length=64 << 20)
    assert len(BOMB) < 4096 and len(produced) == 64 << 20 and not any(produced[:4096])


def outputs_archive(members):
    return raw_zip([(name, method, data, len(data), 0) for name, method, data in members])


def test_outputs_reader_reads_numeric_arrays(tmp_path):
    path = tmp_path / "outputs_0.npz"
    path.write_bytes(outputs_archive([("ok.npy", zipfile.ZIP_STORED, npy_bytes(np.arange(6.0).reshape(2, 3)))]))
    assert sandbox._read_arrays(path)["ok"].tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("member", [
    ("bomb.npy", zipfile.ZIP_BZIP2, BOMB),
    ("objects.npy", zipfile.ZIP_STORED, npy_bytes(np.array([1, None], dtype=object), True)),
    ("text.npy", zipfile.ZIP_STORED, npy_bytes(np.array(["a", "b"]))),
    ("huge.npy", zipfile.ZIP_STORED, npy_header("<f8", (10 ** 5, 10 ** 5))),
    ("short.npy", zipfile.ZIP_STORED, npy_header("<f8", (10,)) + b"\0" * 8),
    ("plain.txt", zipfile.ZIP_STORED, b"hi"),
], ids=lambda member: member[0])
def test_outputs_reader_refuses_an_archive_with_anything_the_worker_does_not_write(member, tmp_path):
    path = tmp_path / "outputs_0.npz"
    path.write_bytes(outputs_archive([("ok.npy", zipfile.ZIP_STORED, npy_bytes(np.arange(6.0))), member]))
    assert sandbox._read_arrays(path) == {}


def test_npz_reader_names_each_refused_member_and_keeps_the_rest():
    members = [("ok.npy", zipfile.ZIP_STORED, npy_bytes(np.arange(6.0).reshape(2, 3))),
               ("bomb.npy", zipfile.ZIP_BZIP2, BOMB),
               ("objects.npy", zipfile.ZIP_STORED, npy_bytes(np.array([1, None], dtype=object), True)),
               ("text.npy", zipfile.ZIP_STORED, npy_bytes(np.array(["a", "b"]))),
               ("huge.npy", zipfile.ZIP_STORED, npy_header("<f8", (10 ** 5, 10 ** 5))),
               ("short.npy", zipfile.ZIP_STORED, npy_header("<f8", (10,)) + b"\0" * 8),
               ("plain.txt", zipfile.ZIP_STORED, b"hi")]
    budget = archives.Budget(max_bytes=64 << 20, max_files=100)
    arrays, problems = archives.read_npz(outputs_archive(members), budget, sandbox._numeric_only)
    assert list(arrays) == ["ok"] and arrays["ok"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert [problem.split()[0].rstrip(":") for problem in problems] == [
        "bomb.npy", "objects", "text", "huge", "short", "plain.txt"]
    assert budget.bytes_used < 1 << 20


def test_outputs_reader_counts_bytes_actually_produced(tmp_path):
    bomb = deflate_bomb(100)
    header = npy_header("<f8", (10,))
    path = tmp_path / "outputs_0.npz"
    path.write_bytes(outputs_archive([("lying.npy", zipfile.ZIP_DEFLATED, zlib.compress(header)[2:-4] + bomb)]))
    assert sandbox._read_arrays(path) == {}


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '"just a string"',
    '{"status": "ok", "outputs": {"x": {"type": ' + "[" * 50_000 + "]" * 50_000 + "}}}",
    '{"status": "ok", "warnings": ["\\ud800 lone surrogate"], "error": {"message": {"nested": [1, 2]}}, '
    '"printed": {"chars": true, "head": 5}, "seconds": "slow"}',
    b'{"status": "ok", "warnings": ["\xff\xfe invalid utf-8"]}',
    '{"status": "error", "error": {"frames": [{"file": ["a"], "line": {"x": 1}}, 3]}, "warnings": '
    + json.dumps(["w" * 10_000] * 1000) + "}",
])
def test_worker_reply_reader_survives_anything(body, tmp_path):
    path = tmp_path / "reply_0.json"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    reply = sandbox._read_reply(path)
    if reply is not None:
        text = json.dumps(reply)
        text.encode("utf-8")  # valid UTF-8 through and through
        assert len(text) < 600_000
        assert all(isinstance(item, str) for item in reply["warnings"])
        assert isinstance(reply["printed"]["chars"], int) and isinstance(reply["seconds"], float)


def test_upload_budget_refuses_a_directory_bigger_than_the_budget(tmp_path):
    members = [(f"f{index}.txt", zipfile.ZIP_STORED, b"", 0, 0) for index in range(300)]
    path = tmp_path / "many.zip"
    path.write_bytes(raw_zip(members))
    with pytest.raises(archives.BudgetExceeded):
        archives.open_zip(path, archives.Budget(max_bytes=1 << 20, max_files=100))


def test_numeric_check_needs_the_expected_gradient_not_only_self_consistency():
    """A dropout backward that returns zeros beside a forward that returns zeros agrees with its own
    numerical gradient; the gradient the forward's mask implies still fails it."""
    x = np.random.default_rng(0).normal(size=(4, 5)) + 1.0
    dout = np.random.default_rng(1).normal(size=(4, 5))
    spec = numeric(0, 0, {"dx": {"$in": "x"}}, output=[0], dout="dout")
    check = Check("numeric", "dx", expect=inverted_dropout_gradient("out", 0.6))
    zeros = np.zeros((4, 5, 4, 5))
    lazy = {"dx": np.zeros((4, 5)), "out": np.zeros((4, 5)), "numeric/dx/plus": zeros, "numeric/dx/minus": zeros}
    verdict = Judge(lazy, {}, {}, {"x": x, "dout": dout}, None, numerics=[spec]).run([check])
    assert verdict.fraction == 0.0 and verdict.checks[0].problem == "rule"

    mask = np.random.default_rng(2).random((4, 5)) >= 0.4
    out = x * mask / 0.6
    h = spec["h"]
    eye = np.eye(20).reshape(4, 5, 4, 5)
    honest = {"dx": dout * mask / 0.6, "out": out,
              "numeric/dx/plus": out + h * eye * (mask / 0.6), "numeric/dx/minus": out - h * eye * (mask / 0.6)}
    assert Judge(honest, {}, {}, {"x": x, "dout": dout}, None, numerics=[spec]).run([check]).fraction == 1.0


def test_numeric_check_without_an_expected_gradient_is_a_reference_comparison():
    spec = numeric(0, 0, {"dx": {"$in": "x"}}, output=[0])
    zeros = np.zeros((3, 3))
    outputs = {"dx": np.zeros(3), "numeric/dx/plus": zeros, "numeric/dx/minus": zeros}
    verdict = Judge(outputs, {}, {"dx": np.ones(3)}, {"x": np.ones(3)}, None, numerics=[spec]).run(
        [Check("numeric", "dx")])
    assert verdict.fraction == 0.0


class Planned:
    def __init__(self, number, name):
        from autograder.suites.spec import FORWARD, Test

        self.number, self.max_score, self.prerequisite_only = number, 1.0, False
        self.test = Test(f"f{number}", name, FORWARD)


def test_results_stay_valid_small_and_escaped(tmp_path):
    planned = [Planned(str(index), f"test {index}") for index in range(300)]
    report = Report(tmp_path / "results.json", planned, "hw")
    report.messages = ["Graded course_lib/layers.py (from [x](http://e) <script>|`a`_b_ \ud800\n# head)"]
    checks = [CheckResult(f"c{index}", "match", False, "m" * 300, error=float("nan")) for index in range(200)]
    for item in planned:
        report.verdicts[item.number] = Verdict(0.0, ["line \udc80 " + "x" * 9000], checks=checks)
    report.write()
    text = (tmp_path / "results.json").read_bytes()
    assert len(text) < RESULTS_LIMIT
    results = json.loads(text.decode("utf-8"))
    jsonschema.validate(results, SCHEMA)
    summary = results["output"]
    assert "<script>" not in summary and "[x](" not in summary and "\n# head" not in summary
    assert "\\<script\\>" in summary and "course_lib/layers.py" in summary and "\\`a\\`" in summary
    assert markdown_text("my_submission/course_lib") == "my_submission/course_lib"


class ReferenceModules:
    """The reference course_lib of this checkout, as the grading process's ReferenceLibrary offers it."""

    def module(self, name):
        import importlib

        return importlib.import_module(f"course_lib.{name}")


def test_dropout_net_gradients_from_the_masks_are_the_reference_net_gradients():
    from autograder.suites import functional_nets as nets
    from autograder.suites.masks import dropout_net_gradient
    from course_lib import layers
    from course_lib.classifiers.fc_net import FullyConnectedNet

    hidden = len(nets.DEEP_DIMS)
    inputs = nets.dropout_net_inputs(np.random.default_rng(3))
    sizes = {key: value for key, value in nets.fc_net_sizes(nets.DEEP_DIMS, dropout=0.3, seed=7).items()
             if key != "dtype"}
    net = FullyConnectedNet(**sizes, dtype=np.float64)
    params = nets.fc_net_params(hidden_dims=nets.DEEP_DIMS)
    net.params.update({name: inputs[name] for name in params})
    _, grads = net.loss(inputs["X"], inputs["y"])
    masks = {f"mask probe/{layer}": layers.dropout_forward(inputs[f"ones{layer}"],
                                                           {"mode": "train", "p": 0.3, "seed": 7})[0]
             for layer in range(1, hidden + 1)}
    for name in params:
        expected = dropout_net_gradient(name, hidden, 0.7, mask_prefix="mask probe/")(masks, inputs,
                                                                                     ReferenceModules())
        np.testing.assert_allclose(expected, grads[name], rtol=1e-12, atol=1e-14)
