"""course_lib.vis_utils: the weight grid and the training-curve plot."""
import numpy as np
import pytest

from course_lib.vis_utils import plot_training_history, visualize_grid


def test_grid_shape_and_tile_placement():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((5, 2, 3, 3))
    grid = visualize_grid(images, ubound=10.0, padding=1)
    # ceil(sqrt(5)) = 3 tiles a side: 3 * 2 + 2 rows, 3 * 3 + 2 columns.
    assert grid.shape == (8, 11, 3)
    for index, image in enumerate(images):
        row, column = divmod(index, 3)
        tile = grid[row * 3:row * 3 + 2, column * 4:column * 4 + 3]
        expected = 10.0 * (image - image.min()) / (image.max() - image.min())
        np.testing.assert_allclose(tile, expected, rtol=1e-12, atol=1e-12)
    assert not grid[2].any() and not grid[:, 3].any(), "padding stays blank"
    assert not grid[6:, 4:].any(), "unused cells stay blank"


@pytest.mark.parametrize("num_images, grid_side", [(1, 1), (4, 2), (9, 3), (10, 4)])
def test_grid_is_the_smallest_square_that_holds_every_image(num_images, grid_side):
    grid = visualize_grid(np.ones((num_images, 4, 4, 1)), padding=0)
    assert grid.shape == (4 * grid_side, 4 * grid_side, 1)


def test_constant_image_becomes_zero_instead_of_dividing_by_zero():
    with np.errstate(all="raise"):
        grid = visualize_grid(np.full((1, 2, 2, 3), 7.0))
    assert not grid.any()


@pytest.mark.parametrize(
    "images, padding, message",
    [(np.ones((2, 4, 4)), 1, r"\(N, H, W, C\)"), (np.ones((0, 4, 4, 3)), 1, "non-empty"), (np.ones((2, 4, 4, 3)), -1, "padding")],
)
def test_grid_rejects_bad_input(images, padding, message):
    with pytest.raises(ValueError, match=message):
        visualize_grid(images, padding=padding)


HISTORY = {"loss_history": [2.3, 2.0, 1.5, 1.2], "train_acc_history": [0.1, 0.5, 0.7], "val_acc_history": [0.1, 0.4, 0.6]}


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib (instructor extra) is not installed")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _plotted(figure):
    loss_axis, accuracy_axis = figure.axes
    return [line.get_ydata().tolist() for line in loss_axis.lines + accuracy_axis.lines]


def test_plot_draws_loss_and_both_accuracies(pyplot):
    figure = plot_training_history(HISTORY)
    assert _plotted(figure) == [HISTORY["loss_history"], HISTORY["train_acc_history"], HISTORY["val_acc_history"]]


def test_plot_reads_the_npz_names_of_record_histories_as_npz(pyplot, tmp_path):
    path = tmp_path / "histories.npz"
    np.savez(path, train_losses=HISTORY["loss_history"], train_accs=HISTORY["train_acc_history"],
             val_accs=HISTORY["val_acc_history"])
    with np.load(path, allow_pickle=False) as archive:
        figure = plot_training_history(archive)
    assert _plotted(figure) == [HISTORY["loss_history"], HISTORY["train_acc_history"], HISTORY["val_acc_history"]]


def test_plot_overlays_runs_on_given_axes(pyplot):
    _, axes = pyplot.subplots(1, 2)
    plot_training_history(HISTORY, axes=axes, label="sgd")
    figure = plot_training_history(HISTORY, axes=axes, label="adam")
    assert len(figure.axes[0].lines) == 2 and len(figure.axes[1].lines) == 4
    assert [text.get_text() for text in figure.axes[1].get_legend().get_texts()] == [
        "sgd train", "sgd val", "adam train", "adam val",
    ]


def test_plot_names_a_missing_history(pyplot):
    with pytest.raises(ValueError, match="val_acc_history"):
        plot_training_history({"loss_history": [1.0], "train_acc_history": [0.5]})


def test_plot_on_three_axes_separates_train_and_validation_accuracy(pyplot):
    _, axes = pyplot.subplots(1, 3)
    plot_training_history(HISTORY, axes=axes, label="sgd")
    figure = plot_training_history(HISTORY, axes=axes, label="adam")
    loss_axis, train_axis, val_axis = figure.axes
    assert [line.get_ydata().tolist() for line in train_axis.lines] == [HISTORY["train_acc_history"]] * 2
    assert [line.get_ydata().tolist() for line in val_axis.lines] == [HISTORY["val_acc_history"]] * 2
    assert [axis.get_ylabel() for axis in figure.axes] == ["training loss", "training accuracy", "validation accuracy"]
    for axis in figure.axes:
        assert [text.get_text() for text in axis.get_legend().get_texts()] == ["sgd", "adam"]


def test_plot_names_a_wrong_number_of_axes(pyplot):
    _, axes = pyplot.subplots(1, 4)
    with pytest.raises(ValueError, match="two .* or three"):
        plot_training_history(HISTORY, axes=axes)
