"""The checks the original courses published (oracle.md) for layers, optimizers and naive conv layers,
plus the courses' statistical checks of softmax_loss, batchnorm and dropout."""

import numpy as np
import pytest

from course_lib import optim
from course_lib.conv_layers import conv_forward_naive, max_pool_forward_naive
from course_lib.layers import affine_forward, batchnorm_forward, dropout_forward, softmax_loss
from tests.helpers import assert_close, lin


def test_affine_forward_published_output():
    out, _ = affine_forward(lin(-0.1, 0.5, 2, 4, 5, 6), lin(-0.2, 0.3, 120, 3), lin(-0.3, 0.1, 3))
    expected = [[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]]
    assert_close(out, expected, name="affine_forward")


OPTIM_W = lin(-0.4, 0.6, 4, 5)
OPTIM_DW = lin(-0.6, 0.4, 4, 5)
# Published results of one step from OPTIM_W with gradient OPTIM_DW (test_oracle_mlp
# checks the object-API optimizers against the same numbers).
MOMENTUM_NEXT_W = [
    [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
    [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
    [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
    [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
]
NESTEROV_NEXT_W = [
    [0.08714, 0.15246105, 0.21778211, 0.28310316, 0.34842421],
    [0.41374526, 0.47906632, 0.54438737, 0.60970842, 0.67502947],
    [0.74035053, 0.80567158, 0.87099263, 0.93631368, 1.00163474],
    [1.06695579, 1.13227684, 1.19759789, 1.26291895, 1.32824],
]
MOMENTUM_VELOCITY = [
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
]
RMSPROP_NEXT_W = [
    [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
    [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
    [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
    [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
]
RMSPROP_SECOND_MOMENT = [
    [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
    [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
    [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
    [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
]
ADAM_NEXT_W = [
    [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
    [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
    [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
    [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
]
ADAM_FIRST_MOMENT = [
    [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
    [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
    [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
    [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
]
ADAM_SECOND_MOMENT = [
    [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
    [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
    [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
    [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
]

# rule: (config before the step, tolerance on next_w, published next_w, published state)
OPTIM_CASES = {
    "sgd_momentum": (
        lambda: {"learning_rate": 1e-3, "velocity": lin(0.6, 0.9, 4, 5)},
        1e-7, MOMENTUM_NEXT_W, {"velocity": MOMENTUM_VELOCITY},
    ),
    "sgd_nesterov_momentum": (
        lambda: {"learning_rate": 1e-3, "velocity": lin(0.6, 0.9, 4, 5)},
        1e-7, NESTEROV_NEXT_W, {"velocity": MOMENTUM_VELOCITY},
    ),
    "rmsprop": (
        lambda: {"learning_rate": 1e-2, "a": lin(0.6, 0.9, 4, 5)},
        1e-6, RMSPROP_NEXT_W, {"a": RMSPROP_SECOND_MOMENT},
    ),
    "adam": (
        lambda: {"learning_rate": 1e-2, "v": lin(0.6, 0.9, 4, 5), "a": lin(0.7, 0.5, 4, 5), "t": 5},
        1e-6, ADAM_NEXT_W, {"v": ADAM_FIRST_MOMENT, "a": ADAM_SECOND_MOMENT},
    ),
}


@pytest.mark.parametrize("rule", OPTIM_CASES)
def test_optimizer_published_step(rule):
    make_config, next_w_tol, expected_w, expected_state = OPTIM_CASES[rule]
    next_w, config = getattr(optim, rule)(OPTIM_W.copy(), OPTIM_DW.copy(), make_config())
    assert_close(next_w, expected_w, tol=next_w_tol, name=f"{rule} next_w")
    for key, expected in expected_state.items():
        assert_close(config[key], expected, name=f"{rule} config[{key!r}]")


def test_conv_forward_naive_published_output():
    out, _ = conv_forward_naive(
        lin(-0.1, 0.5, 2, 3, 4, 4),
        lin(-0.2, 0.3, 3, 3, 4, 4),
        lin(-0.1, 0.2, 3),
        {"stride": 2, "pad": 1},
    )
    expected = [
        [
            [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
            [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
            [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
        ],
        [
            [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
            [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
            [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
        ],
    ]
    assert_close(out, expected, name="conv_forward_naive")


def test_max_pool_forward_naive_published_output():
    out, _ = max_pool_forward_naive(
        lin(-0.3, 0.4, 2, 3, 4, 4), {"pool_width": 2, "pool_height": 2, "stride": 2}
    )
    expected = [
        [
            [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
            [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
            [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
        ],
        [
            [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
            [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
            [[0.32631579, 0.34105263], [0.38526316, 0.4]],
        ],
    ]
    assert_close(out, expected, name="max_pool_forward_naive")


def test_softmax_loss_of_tiny_scores_is_log_of_class_count():
    rng = np.random.default_rng(0)
    loss, _ = softmax_loss(0.001 * rng.standard_normal((50, 10)), rng.integers(10, size=50))
    assert loss == pytest.approx(np.log(10), abs=1e-3)


@pytest.mark.parametrize(
    "gamma, beta", [(1.0, 0.0), (np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0]))]
)
def test_batchnorm_train_output_has_mean_beta_and_std_gamma(gamma, beta):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 3)) * np.array([30.0, 5.0, 60.0]) + np.array([-10.0, 4.0, 50.0])
    gamma, beta = np.broadcast_to(gamma, 3), np.broadcast_to(beta, 3)
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)


@pytest.mark.parametrize("p", [0.3, 0.6, 0.75])
def test_dropout_drops_a_fraction_p_and_preserves_the_mean(p):
    x = np.random.default_rng(2).standard_normal((500, 500)) + 10
    train_out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 123})
    test_out, _ = dropout_forward(x, {"p": p, "mode": "test"})
    assert np.mean(train_out == 0) == pytest.approx(p, abs=0.01)
    assert train_out.mean() == pytest.approx(x.mean(), rel=0.02)
    np.testing.assert_array_equal(test_out, x)
