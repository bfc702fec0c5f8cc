"""Speed of course_lib's layers against PyTorch CPU, in one command.

    python -m benchmarks.run            # 1 and 2 threads, float32 and float64
    python benchmarks/run.py --threads 1 --dtypes float32 --quick

Each thread count runs in its own worker process, because the BLAS thread
count must be fixed (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS)
before NumPy is imported; torch gets torch.set_num_threads in the same worker.
Both libraries see the same arrays, and their runs are interleaved so that
load from other processes on the machine slows both alike. Times are medians.

Ratios are course_lib time / torch time (below 1 means course_lib is faster).
GFLOP/s count the multiply-adds of a direct convolution, 2 * N * F * H_out *
W_out * C * HH * WW for the forward pass and twice that for the backward
pass (dx and dw), and are compared with the machine's own matmul rate: a
1024 x 1024 x 1024 NumPy product at the same thread count and dtype.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

CONV_CASES = [
    # name, x shape, w shape, stride, pad
    ("conv 100x3x31x31 * 25x3x3x3 s2 p1", (100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ("conv 50x3x32x32 * 32x3x7x7 s1 p3", (50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ("conv 50x64x16x16 * 64x64x3x3 s1 p1", (50, 64, 16, 16), (64, 64, 3, 3), 1, 1),
]
POOL_CASE = ("max pool 2x2 s2 on 100x3x32x32", (100, 3, 32, 32), 2, 2)
NAIVE_CONV_CASE = ("naive conv 10x3x16x16 * 8x3x3x3 s1 p1", (10, 3, 16, 16), (8, 3, 3, 3), 1, 1)
NAIVE_POOL_CASE = ("naive max pool 2x2 s2 on 10x3x16x16", (10, 3, 16, 16), 2, 2)
TRAIN_IMAGES, TRAIN_BATCH = 1000, 50
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MATMUL_SIZE = 1024


def conv_flops(x_shape, w_shape, stride, pad):
    n, channels, height, width = x_shape
    filters, _, filter_height, filter_width = w_shape
    out_height = (height + 2 * pad - filter_height) // stride + 1
    out_width = (width + 2 * pad - filter_width) // stride + 1
    return 2 * n * filters * out_height * out_width * channels * filter_height * filter_width


def median_times(functions, repeats, min_seconds):
    """Interleaved timings: round r runs every function once; returns the median per function."""
    import numpy as np
    for function in functions:
        function()  # warm-up: first-call allocations, caches, lazy imports
    samples = [[] for _ in functions]
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or time.perf_counter() - start < min_seconds:
        for function, times in zip(functions, samples):
            begin = time.perf_counter()
            function()
            times.append(time.perf_counter() - begin)
        rounds += 1
        if rounds >= 50 * repeats:
            break
    return [float(np.median(times)) for times in samples]


def matmul_rate(dtype, settings):
    import numpy as np
    import torch
    rng = np.random.default_rng(0)
    a = rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE)).astype(dtype)
    b = rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE)).astype(dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    numpy_time, torch_time = median_times([lambda: a @ b, lambda: ta @ tb], **settings)
    flops = 2 * MATMUL_SIZE ** 3
    return flops / numpy_time / 1e9, flops / torch_time / 1e9


def conv_rows(dtype, settings, peak):
    rows = []
    for case in CONV_CASES:
        rows += conv_case_rows(case, dtype, settings, peak)
    return rows


def conv_case_rows(case, dtype, settings, peak):
    """Forward, backward and both for one convolution, course_lib's fast layer and torch."""
    import numpy as np
    import torch

    from course_lib.fast_layers import conv_backward_fast, conv_forward_fast
    name, x_shape, w_shape, stride, pad = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (0.1 * rng.standard_normal(w_shape)).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)

    x_t, w_t, b_t = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)
    out_t = torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    ours_f, ours_b, theirs_f, theirs_b = median_times([
        lambda: conv_forward_fast(x, w, b, conv_param),
        lambda: conv_backward_fast(dout, cache),
        lambda: torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=pad),
        lambda: torch.autograd.grad(out_t, (x_t, w_t, b_t), dout_t, retain_graph=True),
    ], **settings)
    flops = conv_flops(x_shape, w_shape, stride, pad)
    return [
        timing_row(f"{name} forward", ours_f, theirs_f, flops, peak),
        timing_row(f"{name} backward", ours_b, theirs_b, 2 * flops, peak),
        timing_row(f"{name} fwd+bwd", ours_f + ours_b, theirs_f + theirs_b, 3 * flops, peak),
    ]


def timing_row(name, ours, theirs, flops=None, peak=None):
    row = {"name": name, "ours_ms": 1e3 * ours, "torch_ms": 1e3 * theirs, "ratio": ours / theirs}
    if flops:
        row["gflops"] = flops / ours / 1e9
        row["torch_gflops"] = flops / theirs / 1e9
        row["of_matmul"] = row["gflops"] / peak
    return row


def pool_rows(dtype, settings):
    import numpy as np
    import torch

    from course_lib.fast_layers import max_pool_backward_fast, max_pool_forward_fast
    name, x_shape, size, stride = POOL_CASE
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(dtype)
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    x_t = torch.from_numpy(x).requires_grad_()
    dout_t = torch.from_numpy(dout)
    out_t = torch.nn.functional.max_pool2d(x_t, size, stride)
    times = median_times([
        lambda: max_pool_forward_fast(x, pool_param),
        lambda: max_pool_backward_fast(dout, cache),
        lambda: torch.nn.functional.max_pool2d(x_t, size, stride),
        lambda: torch.autograd.grad(out_t, (x_t,), dout_t, retain_graph=True),
    ], **settings)
    return [timing_row(f"{name} forward", times[0], times[2]),
            timing_row(f"{name} backward", times[1], times[3])]


def naive_rows(dtype, settings):
    """The naive layers on small inputs, against torch (the fast layers' ratio for scale)."""
    import numpy as np
    import torch

    from course_lib import conv_layers, fast_layers
    rng = np.random.default_rng(3)
    name, x_shape, w_shape, stride, pad = NAIVE_CONV_CASE
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, naive_cache = conv_layers.conv_forward_naive(x, w, b, conv_param)
    _, fast_cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    x_t, w_t, b_t = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    dout_t = torch.from_numpy(dout)
    conv_times = median_times([
        lambda: conv_layers.conv_forward_naive(x, w, b, conv_param),
        lambda: conv_layers.conv_backward_naive(dout, naive_cache),
        lambda: fast_layers.conv_forward_fast(x, w, b, conv_param),
        lambda: fast_layers.conv_backward_fast(dout, fast_cache),
        lambda: torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=pad),
        lambda: torch.autograd.grad(out_t, (x_t, w_t, b_t), dout_t, retain_graph=True),
    ], **settings)

    pool_name, pool_shape, size, pool_stride = NAIVE_POOL_CASE
    px = rng.standard_normal(pool_shape).astype(dtype)
    pool_param = {"pool_height": size, "pool_width": size, "stride": pool_stride}
    pooled, naive_pool_cache = conv_layers.max_pool_forward_naive(px, pool_param)
    _, fast_pool_cache = fast_layers.max_pool_forward_fast(px, pool_param)
    pdout = rng.standard_normal(pooled.shape).astype(dtype)
    px_t = torch.from_numpy(px).requires_grad_()
    pooled_t = torch.nn.functional.max_pool2d(px_t, size, pool_stride)
    pdout_t = torch.from_numpy(pdout)
    pool_times = median_times([
        lambda: conv_layers.max_pool_forward_naive(px, pool_param),
        lambda: conv_layers.max_pool_backward_naive(pdout, naive_pool_cache),
        lambda: fast_layers.max_pool_forward_fast(px, pool_param),
        lambda: fast_layers.max_pool_backward_fast(pdout, fast_pool_cache),
        lambda: torch.nn.functional.max_pool2d(px_t, size, pool_stride),
        lambda: torch.autograd.grad(pooled_t, (px_t,), pdout_t, retain_graph=True),
    ], **settings)

    rows = []
    for label, times in [(name, conv_times), (pool_name, pool_times)]:
        naive_f, naive_b, fast_f, fast_b, torch_f, torch_b = times
        for part, naive, fast, theirs in [("forward", naive_f, fast_f, torch_f),
                                          ("backward", naive_b, fast_b, torch_b)]:
            row = timing_row(f"{label} {part}", naive, theirs)
            row["naive_over_fast"] = naive / fast
            rows.append(row)
    return rows


def convnet_model(dtype):
    """The course's ThreeLayerConvNet with the default sizes (32 7x7 filters, 100 hidden units)."""
    import numpy as np

    from course_lib.classifiers.cnn import ThreeLayerConvNet
    np.random.seed(0)
    return ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                             num_classes=10, weight_scale=1e-3, reg=0.0, dtype=dtype)


def torch_convnet(model, dtype):
    """The same network in torch, starting from the course model's weights."""
    import torch
    params = model.params
    filters, _, filter_size, _ = params["W1"].shape
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, filters, filter_size, padding=(filter_size - 1) // 2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(params["W2"].shape[0], params["W2"].shape[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(params["W3"].shape[0], params["W3"].shape[1]),
    ).to(getattr(torch, dtype))
    with torch.no_grad():
        for layer, index in ((net[0], 1), (net[4], 2), (net[6], 3)):
            weight = params[f"W{index}"] if index == 1 else params[f"W{index}"].T
            layer.weight.copy_(torch.from_numpy(weight))
            layer.bias.copy_(torch.from_numpy(params[f"b{index}"]))
    return net


def training_rows(dtype, settings):
    """One epoch of SGD on TRAIN_IMAGES random CIFAR-sized images, batch TRAIN_BATCH."""
    import numpy as np
    import torch
    rng = np.random.default_rng(4)
    images = rng.standard_normal((TRAIN_IMAGES, 3, 32, 32)).astype(dtype)
    labels = rng.integers(0, 10, TRAIN_IMAGES)
    batches = [slice(i, i + TRAIN_BATCH) for i in range(0, TRAIN_IMAGES, TRAIN_BATCH)]
    model = convnet_model(dtype)
    net = torch_convnet(model, dtype)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-4)
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)

    def course_epoch():
        for batch in batches:
            _, grads = model.loss(images[batch], labels[batch])
            for key, grad in grads.items():
                model.params[key] -= 1e-4 * grad

    def torch_epoch():
        for batch in batches:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(images_t[batch]), labels_t[batch])
            loss.backward()
            optimizer.step()

    epoch_settings = {"repeats": max(3, settings["repeats"] // 4), "min_seconds": 0}
    ours, theirs = median_times([course_epoch, torch_epoch], **epoch_settings)
    steps = len(batches)
    return [timing_row(f"ThreeLayerConvNet training step (batch {TRAIN_BATCH}, "
                       f"epoch of {TRAIN_IMAGES})", ours / steps, theirs / steps)]


def worker(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    settings = {"repeats": args.repeats, "min_seconds": args.min_seconds}
    results = {"threads": args.threads, "dtypes": {}}
    for dtype in args.dtypes:
        peak, torch_peak = matmul_rate(np.dtype(dtype), settings)
        rows = conv_rows(dtype, settings, peak) + pool_rows(dtype, settings)
        rows += naive_rows(dtype, settings) + training_rows(dtype, settings)
        results["dtypes"][dtype] = {"matmul_gflops": peak, "torch_matmul_gflops": torch_peak, "rows": rows}
    json.dump(results, sys.stdout)


def grade_reference(assignment):
    """Grade the reference submission with the built autograder zip; prints a JSON line.

    Runs pinned to one core. Peak memory is the largest resident set of any
    process the grading waited for (harness, workers), from getrusage.
    """
    import resource
    import tempfile

    from autograder.local import default_zip, grade_submission, write_reference_submission
    zip_path = default_zip(assignment)
    with tempfile.TemporaryDirectory(prefix=f"benchmark-{assignment}-") as folder:
        write_reference_submission(zip_path, folder)
        start = time.perf_counter()
        results = grade_submission(assignment, folder, zip_path)
        seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    max_score = sum(test.get("max_score", 0) for test in results.get("tests", []))
    json.dump({"assignment": assignment, "seconds": seconds, "peak_mib": peak_kib / 1024,
               "score": results.get("score"), "max_score": max_score}, sys.stdout)


def grading_rows(assignments):
    """Grading budget: each assignment's reference graded on one core (needs `course build` first)."""
    rows = []
    one_core = sorted(os.sched_getaffinity(0))[:1]
    for assignment in assignments:
        zip_path = os.path.join(REPO_ROOT, "dist", f"{assignment}-autograder.zip")
        if not os.path.isfile(zip_path):
            rows.append({"assignment": assignment, "missing": f"no {os.path.relpath(zip_path, REPO_ROOT)}: "
                                                            f"run `course build {assignment}` first"})
            continue
        print(f"grading the {assignment} reference on one core...", file=sys.stderr)
        command = [sys.executable, os.path.abspath(__file__), "--grade-reference", assignment]
        completed = subprocess.run(command, env=thread_environment(1), stdout=subprocess.PIPE, check=True,
                                   preexec_fn=lambda: os.sched_setaffinity(0, one_core))
        rows.append(json.loads(completed.stdout))
    return rows


def print_grading(rows):
    print("### Grading budget: reference submissions on one core (limits 120 s, 500 MB)\n")
    print("| assignment | wall time s | peak memory MiB | score |")
    print("|---|---:|---:|---:|")
    for row in rows:
        if "missing" in row:
            print(f"| {row['assignment']} | pending: {row['missing']} | | |")
        else:
            print(f"| {row['assignment']} | {row['seconds']:.1f} | {row['peak_mib']:.0f} "
                  f"| {row['score']}/{row['max_score']} |")
    print()


def thread_environment(threads):
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def machine_description():
    import Cython
    import numpy as np
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    info = getattr(np.__config__, "CONFIG", {}).get("Build Dependencies", {}).get("blas", {})
    blas = f"{info.get('name', 'unknown BLAS')} {info.get('version', '')}".strip()
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores visible",
        "python": platform.python_version(),
        "numpy": f"{np.__version__} ({blas})",
        "torch": f"{torch.__version__} (oneDNN {torch.backends.mkldnn.is_available()})",
        "cython": Cython.__version__,
        "allocator": allocator_description(),
    }


def allocator_description():
    """glibc malloc settings from the environment, transparent huge pages, NumPy's hugepage hint."""
    import numpy as np
    tunables = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_") or k == "GLIBC_TUNABLES"}
    text = "glibc malloc " + (", ".join(f"{k}={v}" for k, v in sorted(tunables.items())) or "defaults")
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as thp:
            text += f"; transparent hugepages {thp.read().strip()}"
    except OSError:
        pass
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    hint = getattr(getattr(core, "multiarray", None), "_get_madvise_hugepage", None)
    if hint is not None:
        text += f"; NumPy madvise(hugepage) {'on' if hint() else 'off'}"
    return text


def print_tables(machine, results):
    print("## course_lib vs torch CPU\n")
    for key, value in machine.items():
        print(f"- {key}: {value}")
    print("\nRatio = course_lib time / torch time (< 1: course_lib is faster). Medians.\n")
    for result in results:
        for dtype, block in result["dtypes"].items():
            print(f"### {result['threads']} thread(s), {dtype}: matmul {block['matmul_gflops']:.0f} GFLOP/s "
                  f"(NumPy), {block['torch_matmul_gflops']:.0f} (torch)\n")
            print("| case | course_lib ms | torch ms | ratio | GFLOP/s (% of matmul) | torch GFLOP/s |")
            print("|---|---:|---:|---:|---:|---:|")
            for row in block["rows"]:
                rate = torch_rate = ""
                if "gflops" in row:
                    rate = f"{row['gflops']:.0f} ({100 * row['of_matmul']:.0f}%)"
                    torch_rate = f"{row['torch_gflops']:.0f}"
                name = row["name"]
                if "naive_over_fast" in row:
                    name += f" (naive is {row['naive_over_fast']:.0f}x the fast layer)"
                print(f"| {name} | {row['ours_ms']:.2f} | {row['torch_ms']:.2f} | {row['ratio']:.2f} "
                      f"| {rate} | {torch_rate} |")
            print()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--dtypes", default="float32,float64", help="comma-separated dtypes")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke test")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results here")
    parser.add_argument("--grading", default="hw3,hw4,hw5,svhn",
                        help="assignments whose reference to grade on one core ('' to skip)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--grade-reference", metavar="ASSIGNMENT", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--min-seconds", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dtypes = args.dtypes.split(",")
    unknown = set(args.dtypes) - {"float32", "float64"}
    if unknown:
        parser.error(f"unknown dtype(s) {sorted(unknown)}: use float32 and/or float64")
    if args.repeats is None:
        args.repeats = 5 if args.quick else 21
    if args.min_seconds is None:
        args.min_seconds = 0.0 if args.quick else 0.5
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.grade_reference:
        grade_reference(args.grade_reference)
        return 0
    if args.worker:
        args.threads = int(args.threads)
        worker(args)
        return 0
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--threads", str(threads),
                   "--dtypes", ",".join(args.dtypes), "--repeats", str(args.repeats),
                   "--min-seconds", str(args.min_seconds)]
        print(f"running with {threads} thread(s)...", file=sys.stderr)
        completed = subprocess.run(command, env=thread_environment(threads), stdout=subprocess.PIPE, check=True)
        results.append(json.loads(completed.stdout))
    grading = grading_rows([a for a in args.grading.split(",") if a])
    machine = machine_description()
    print_tables(machine, results)
    if grading:
        print_grading(grading)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine, "results": results, "grading": grading}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
