"""Synthetic stand-ins for CIFAR-10 and SVHN, written in the official file formats.

Without internet access the real datasets cannot be fetched, yet notebooks,
tests and the autograder build need images to train on. ``write_standin``
writes data that the real loaders read unchanged:

- ``<root>/cifar-10-batches-py/``: ``data_batch_1`` .. ``data_batch_5``,
  ``test_batch`` and ``batches.meta``, pickled dicts with bytes keys as in the
  official Python version (``b'data'``: uint8 (n, 3072) rows of R, G, B
  planes; ``b'labels'``: list of ints 0..9);
- ``<root>/svhn/train_32x32.mat`` and ``test_32x32.mat``: MATLAB files with
  ``X`` uint8 (32, 32, 3, n) and ``y`` uint8 (n, 1), digit 0 stored as 10.

Each folder gets a ``STANDIN.txt`` marker, and the loaders warn when they
read one: results on this data say nothing about the real datasets.

The images have learnable class structure: every class has a smooth random
template; an image is its class template, randomly shifted and scaled, on
smooth random clutter with a random colour tint and pixel noise. Trained on
1500 images for a few epochs, a linear softmax classifier reaches 75-85%
validation accuracy and a network with one hidden layer 80-90%, on both
stand-ins: far above chance, well below 100%.

Output is deterministic: the same arguments give the same bytes, and the first
n images of a split do not depend on how many are asked for.

Command line: ``python -m course_lib.standin [--dir DIR] [--small] [--seed N]``.
"""
import argparse
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib._checks import check_positive_int
from course_lib.data_folder import CIFAR_FOLDER, MARKER_NAME, STANDIN_FOLDER, SVHN_FOLDER, data_dir
CIFAR_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_TRAIN_BATCHES = 5
NUM_CLASSES = 10
IMAGE_SIZE = 32
# Images are drawn in chunks, each from its own random stream, so that the
# first n images of a split are the same whatever the split's size.
CHUNK = 256
SMALL_SIZES = {"cifar_train": 5000, "cifar_test": 1000, "svhn_train": 5000, "svhn_test": 1000}
# Fixed text in place of the creation time scipy writes into a .mat header.
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by course_lib.standin (synthetic stand-in data)"
MAT_HEADER_BYTES = 116


@dataclass(frozen=True)
class Style:
    """How one stand-in dataset's images are drawn (amplitudes in template standard deviations)."""

    dataset_id: int  # separates the random streams of the datasets
    color_templates: bool  # colour templates, or one grey pattern for all channels
    template_grid: int  # templates are smooth fields interpolated from this many points per side
    clutter_grid: int
    clutter: float
    max_shift: int  # pixels, in each direction
    contrast: tuple
    tint: float
    noise: float  # pixel noise, in grey levels
    gain: float  # grey levels per unit of the drawn field


CIFAR_STYLE = Style(dataset_id=1, color_templates=True, template_grid=12, clutter_grid=12, clutter=2.0,
                    max_shift=4, contrast=(0.5, 1.5), tint=0.5, noise=20.0, gain=26.0)
SVHN_STYLE = Style(dataset_id=2, color_templates=False, template_grid=12, clutter_grid=12, clutter=2.0,
                   max_shift=4, contrast=(0.5, 1.5), tint=1.0, noise=20.0, gain=24.0)
TRAIN_SPLIT, TEST_SPLIT = 1, 2


def write_standin(root, cifar_train=50000, cifar_test=10000, svhn_train=73257, svhn_test=26032, seed=0):
    """Write both stand-in datasets under root (created if needed) and return root as a Path."""
    sizes = {"cifar_train": cifar_train, "cifar_test": cifar_test, "svhn_train": svhn_train, "svhn_test": svhn_test}
    sizes = {name: check_positive_int(name, value) for name, value in sizes.items()}
    root = Path(root)
    write_cifar10(root / CIFAR_FOLDER, sizes["cifar_train"], sizes["cifar_test"], seed)
    write_svhn(root / SVHN_FOLDER, sizes["svhn_train"], sizes["svhn_test"], seed)
    return root


def write_cifar10(folder, num_train, num_test, seed=0):
    """The CIFAR-10 python batches: five training batches, the test batch and batches.meta."""
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = draw_images(CIFAR_STYLE, seed, TRAIN_SPLIT, num_train)
    bounds = np.linspace(0, num_train, CIFAR_TRAIN_BATCHES + 1).astype(int)
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:]), start=1):
        label = f"training batch {index} of {CIFAR_TRAIN_BATCHES}"
        _write_cifar_batch(folder / f"data_batch_{index}", label, images[start:stop], labels[start:stop], start)
    images, labels = draw_images(CIFAR_STYLE, seed, TEST_SPLIT, num_test)
    _write_cifar_batch(folder / "test_batch", "testing batch 1 of 1", images, labels, 0)
    meta = {
        b"num_cases_per_batch": int(bounds[1]),
        b"label_names": [name.encode() for name in CIFAR_LABEL_NAMES],
        b"num_vis": 3 * IMAGE_SIZE * IMAGE_SIZE,
    }
    _write_pickle(folder / "batches.meta", meta)
    _write_marker(folder, "CIFAR-10", seed)


def _write_cifar_batch(path, batch_label, images, labels, first_index):
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": [int(label) for label in labels],
        b"data": images.reshape(len(images), -1),
        b"filenames": [f"standin_{first_index + i:06d}.png".encode() for i in range(len(images))],
    }
    _write_pickle(path, batch)


def _write_pickle(path, obj):
    # Protocol 3 stores bytes as they are (protocol 2, which the official Python 2
    # files use, would inflate them by half in Python 3); every loader reads both.
    path.write_bytes(pickle.dumps(obj, protocol=3))


def write_svhn(folder, num_train, num_test, seed=0):
    """train_32x32.mat and test_32x32.mat in the layout of the official SVHN cropped digits."""
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, split, count in (("train_32x32.mat", TRAIN_SPLIT, num_train),
                                    ("test_32x32.mat", TEST_SPLIT, num_test)):
        images, digits = draw_images(SVHN_STYLE, seed, split, count)
        stored_labels = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(-1, 1)
        _write_mat(folder / file_name, {"X": images.transpose(2, 3, 1, 0), "y": stored_labels})
    _write_marker(folder, "SVHN", seed)


def _write_mat(path, arrays):
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, arrays)
    content = bytearray(buffer.getvalue())
    content[:MAT_HEADER_BYTES] = MAT_HEADER.ljust(MAT_HEADER_BYTES)
    path.write_bytes(bytes(content))


def _write_marker(folder, dataset, seed):
    (folder / MARKER_NAME).write_text(
        f"This folder holds a synthetic STAND-IN for {dataset}, written by course_lib.standin "
        f"(seed {seed}). It is not the real {dataset}: accuracies on it say nothing about the "
        "real dataset. Fetch the real data with: python -m course_lib.fetch "
        f"{'cifar10' if dataset == 'CIFAR-10' else 'svhn'}\n"
    )


def draw_images(style, seed, split, count):
    """count images (count, 3, 32, 32) uint8 and their labels (count,) int64 in 0..9."""
    templates = _shifted_templates(style, seed)
    images = np.empty((count, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for chunk, start in enumerate(range(0, count, CHUNK)):
        rng = np.random.default_rng([seed, style.dataset_id, split, chunk])
        stop = min(start + CHUNK, count)
        # A whole chunk is always drawn, so that truncating it gives a prefix of any larger split.
        chunk_images, chunk_labels = _draw_chunk(style, templates, rng, CHUNK)
        images[start:stop], labels[start:stop] = chunk_images[:stop - start], chunk_labels[:stop - start]
    return images, labels


def _draw_chunk(style, templates, rng, n):
    labels = rng.integers(0, NUM_CLASSES, n)
    shifts = rng.integers(0, templates.shape[1], n)
    contrast = rng.uniform(*style.contrast, size=(n, 1, 1, 1))
    field = contrast * templates[labels, shifts]
    field += style.clutter * smooth_fields(rng, n, 3, style.clutter_grid)
    field += style.tint * rng.standard_normal((n, 3, 1, 1))
    pixels = 128 + style.gain * field + style.noise * rng.standard_normal(field.shape)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8), labels


def _shifted_templates(style, seed):
    """(10, number of shifts, 3, 32, 32): every class template at every allowed shift."""
    rng = np.random.default_rng([seed, style.dataset_id])
    channels = 3 if style.color_templates else 1
    templates = smooth_fields(rng, NUM_CLASSES, channels, style.template_grid)
    templates /= templates.std(axis=(1, 2, 3), keepdims=True)
    templates = np.broadcast_to(templates, (NUM_CLASSES, 3, IMAGE_SIZE, IMAGE_SIZE))
    offsets = range(-style.max_shift, style.max_shift + 1)
    return np.stack([
        np.stack([np.roll(template, (dy, dx), axis=(1, 2)) for dy in offsets for dx in offsets])
        for template in templates
    ])


def smooth_fields(rng, n, channels, grid):
    """n random fields (n, channels, 32, 32): Gaussian values on a grid x grid lattice, interpolated."""
    interpolation = _interpolation_matrix(grid)
    coarse = rng.standard_normal((n, channels, grid, grid))
    return interpolation @ coarse @ interpolation.T


def _interpolation_matrix(grid):
    """(32, grid) linear interpolation from a periodic lattice of grid points to 32 pixels."""
    position = np.arange(IMAGE_SIZE) * grid / IMAGE_SIZE
    left = np.floor(position).astype(int)
    weight = position - left
    matrix = np.zeros((IMAGE_SIZE, grid))
    rows = np.arange(IMAGE_SIZE)
    matrix[rows, left % grid] += 1 - weight
    matrix[rows, (left + 1) % grid] += weight
    return matrix


def main(argv=None):
    """The command line (see the module docstring); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.standin",
        description="Write the synthetic stand-in CIFAR-10 and SVHN in the official file formats.",
    )
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to write (default: <data dir>/standin)")
    parser.add_argument("--small", action="store_true",
                        help="a few thousand images per dataset, for quick demos")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random images (default 0; the same seed gives the same bytes)")
    args = parser.parse_args(argv)
    default_root = data_dir() / STANDIN_FOLDER
    root = args.dir if args.dir is not None else default_root
    sizes = SMALL_SIZES if args.small else {}
    write_standin(root, seed=args.seed, **sizes)
    print(f"Wrote the STAND-IN CIFAR-10 and SVHN (synthetic, not the real data) to {root}")
    if Path(root).resolve() == default_root.resolve():
        print("The data loaders use it, with a warning, while the real datasets are not in "
              f"{data_dir()}.")
    else:
        print(f"Use it with: export COURSE_DATA_DIR={root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
