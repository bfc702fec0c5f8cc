"""Speed of course_lib's layers against PyTorch CPU, in one command.

    python -m benchmarks.run            # 1 and 2 threads, float32 and float64
    python -m benchmarks.run --threads 1 --dtypes float32 --quick --grading ''

Each thread count runs in its own worker process, because the BLAS thread
count must be fixed (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS)
before NumPy is imported; torch gets torch.set_num_threads in the same worker.
The 1-thread worker is pinned to one core (--core). Both libraries see the
same arrays.

Every direction (forward, backward, a training step) is timed as interleaved
pairs: course_lib once, then torch once, and again, at least --pairs times.
Each pair gives a ratio course_lib time / torch time (below 1: course_lib is
faster); the tables report the median ratio, and the median times. On a loaded
machine both halves of a pair see about the same load, so the ratio holds
while the times do not; the load average before and after is printed.

GFLOP/s count the multiply-adds of a direct convolution, 2 * N * F * H_out *
W_out * C * HH * WW for the forward pass and twice that for the backward
pass (dx and dw), and are compared with the machine's own matmul rate: a
1024 x 1024 x 1024 NumPy product at the same thread count and dtype.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.machine import machine_description

CONV_CASES = [
    # name, x shape, w shape, stride, pad
    ("conv 100x3x31x31 * 25x3x3x3 s2 p1", (100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ("conv 50x3x32x32 * 32x3x7x7 s1 p3", (50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ("conv 50x64x16x16 * 64x64x3x3 s1 p1", (50, 64, 16, 16), (64, 64, 3, 3), 1, 1),
]
POOL_CASE = ("max pool 2x2 s2 on 100x3x32x32", (100, 3, 32, 32), 2, 2)
# The original course's HW5 timed its naive layers against the fast ones on these sizes.
NAIVE_CONV_CASE = CONV_CASES[0]
NAIVE_POOL_CASE = POOL_CASE
# The ThreeLayerConvNet's convolution, for the growth of the time with the batch size.
BATCH_SIZES = (1, 10, 50, 200)
BATCH_CONV = ((3, 32, 32), (32, 3, 7, 7), 1, 3)
TRAIN_IMAGES, TRAIN_BATCH = 1000, 50
# Ratio course_lib / torch each row must reach (issue 18).
TARGETS = {"conv": 1.0, "pool forward": 0.5, "pool backward": 0.8, "training": 1.0}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MATMUL_SIZE = 1024


def conv_flops(x_shape, w_shape, stride, pad):
    n, channels, height, width = x_shape
    filters, _, filter_height, filter_width = w_shape
    out_height = (height + 2 * pad - filter_height) // stride + 1
    out_width = (width + 2 * pad - filter_width) // stride + 1
    return 2 * n * filters * out_height * out_width * channels * filter_height * filter_width


def interleaved(functions, rounds, min_seconds):
    """Run the functions in turn, once each per round, for at least `rounds` rounds and
    min_seconds; returns one list of times per function (entry r from round r)."""
    for function in functions:
        function()  # warm-up: first-call allocations, caches, lazy imports
    samples = [[] for _ in functions]
    start = time.perf_counter()
    done = 0
    while done < rounds or (time.perf_counter() - start < min_seconds and done < 50 * rounds):
        for function, times in zip(functions, samples):
            begin = time.perf_counter()
            function()
            times.append(time.perf_counter() - begin)
        done += 1
    return samples


def paired(ours, theirs, settings):
    """Median times and the median of the per-pair ratios of ours against theirs."""
    import numpy as np
    ours_times, theirs_times = (np.array(t) for t in interleaved([ours, theirs], **settings))
    return {"ours": float(np.median(ours_times)), "torch": float(np.median(theirs_times)),
            "ratio": float(np.median(ours_times / theirs_times)), "pairs": len(ours_times)}


def timing_row(name, pair, target=None, flops=None, peak=None):
    row = {"name": name, "ours_ms": 1e3 * pair["ours"], "torch_ms": 1e3 * pair["torch"],
           "ratio": pair["ratio"], "pairs": pair["pairs"], "target": target}
    if flops:
        row["gflops"] = flops / pair["ours"] / 1e9
        row["torch_gflops"] = flops / pair["torch"] / 1e9
        row["of_matmul"] = row["gflops"] / peak
    return row


def matmul_rate(dtype, settings):
    import numpy as np
    import torch
    rng = np.random.default_rng(0)
    a = rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE)).astype(dtype)
    b = rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE)).astype(dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    pair = paired(lambda: a @ b, lambda: ta @ tb, settings)
    flops = 2 * MATMUL_SIZE ** 3
    return flops / pair["ours"] / 1e9, flops / pair["torch"] / 1e9


def conv_setup(x_shape, w_shape, stride, pad, dtype, seed=1):
    """Inputs, caches and the four timed calls (ours and torch, forward and backward)."""
    import numpy as np
    import torch

    from course_lib.fast_layers import conv_backward_fast, conv_forward_fast
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (0.1 * rng.standard_normal(w_shape)).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    x_t, w_t, b_t = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)
    out_t = torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=pad)
    return {
        "ours forward": lambda: conv_forward_fast(x, w, b, conv_param),
        "ours backward": lambda: conv_backward_fast(dout, cache),
        "torch forward": lambda: torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=pad),
        "torch backward": lambda: torch.autograd.grad(out_t, (x_t, w_t, b_t), dout_t, retain_graph=True),
    }


def conv_rows(dtype, settings, peak):
    rows = []
    for name, x_shape, w_shape, stride, pad in CONV_CASES:
        calls = conv_setup(x_shape, w_shape, stride, pad, dtype)
        flops = conv_flops(x_shape, w_shape, stride, pad)
        for part, part_flops in (("forward", flops), ("backward", 2 * flops)):
            pair = paired(calls[f"ours {part}"], calls[f"torch {part}"], settings)
            rows.append(timing_row(f"{name} {part}", pair, TARGETS["conv"], part_flops, peak))
    return rows


def pool_setup(x_shape, size, stride, dtype):
    import numpy as np
    import torch

    from course_lib.fast_layers import max_pool_backward_fast, max_pool_forward_fast
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(dtype)
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, cache = max_pool_forward_fast(x, pool_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    x_t = torch.from_numpy(x).requires_grad_()
    dout_t = torch.from_numpy(dout)
    out_t = torch.nn.functional.max_pool2d(x_t, size, stride)
    return {
        "ours forward": lambda: max_pool_forward_fast(x, pool_param),
        "ours backward": lambda: max_pool_backward_fast(dout, cache),
        "torch forward": lambda: torch.nn.functional.max_pool2d(x_t, size, stride),
        "torch backward": lambda: torch.autograd.grad(out_t, (x_t,), dout_t, retain_graph=True),
        "x": x, "pool_param": pool_param, "dout": dout,
    }


def pool_rows(dtype, settings):
    name, x_shape, size, stride = POOL_CASE
    calls = pool_setup(x_shape, size, stride, dtype)
    return [timing_row(f"{name} {part}", paired(calls[f"ours {part}"], calls[f"torch {part}"], settings),
                       TARGETS[f"pool {part}"]) for part in ("forward", "backward")]


def naive_rows(dtype, settings):
    """The original course's naive-vs-fast comparison: naive, fast and torch interleaved."""
    import numpy as np

    from course_lib import conv_layers
    name, x_shape, w_shape, stride, pad = NAIVE_CONV_CASE
    conv = conv_setup(x_shape, w_shape, stride, pad, dtype)
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out, conv_cache = conv_layers.conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    pool_name, pool_shape, size, pool_stride = NAIVE_POOL_CASE
    pool = pool_setup(pool_shape, size, pool_stride, dtype)
    pooled, pool_cache = conv_layers.max_pool_forward_naive(pool["x"], pool["pool_param"])
    naive = {
        (name, "forward"): lambda: conv_layers.conv_forward_naive(x, w, b, conv_param),
        (name, "backward"): lambda: conv_layers.conv_backward_naive(dout, conv_cache),
        (pool_name, "forward"): lambda: conv_layers.max_pool_forward_naive(pool["x"], pool["pool_param"]),
        (pool_name, "backward"): lambda: conv_layers.max_pool_backward_naive(pool["dout"], pool_cache),
    }
    rows = []
    for (label, part), naive_call in naive.items():
        calls = conv if label == name else pool
        times = [np.array(t) for t in interleaved(
            [naive_call, calls[f"ours {part}"], calls[f"torch {part}"]], **settings)]
        rows.append({"name": f"{label} {part}", "naive_ms": 1e3 * float(np.median(times[0])),
                     "fast_ms": 1e3 * float(np.median(times[1])),
                     "torch_ms": 1e3 * float(np.median(times[2])),
                     "naive_over_fast": float(np.median(times[0] / times[1])),
                     "naive_over_torch": float(np.median(times[0] / times[2])), "pairs": len(times[0])})
    return rows


def batch_rows(dtype, settings):
    """The ThreeLayerConvNet's convolution at several batch sizes, forward and backward."""
    image_shape, w_shape, stride, pad = BATCH_CONV
    rows = []
    for n in BATCH_SIZES:
        calls = conv_setup((n, *image_shape), w_shape, stride, pad, dtype)
        row = {"n": n}
        for part in ("forward", "backward"):
            pair = paired(calls[f"ours {part}"], calls[f"torch {part}"], settings)
            row[part] = {"ours_ms": 1e3 * pair["ours"], "torch_ms": 1e3 * pair["torch"],
                         "ratio": pair["ratio"]}
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
    """SGD steps on random CIFAR-sized images, batch TRAIN_BATCH; one pair is an epoch of
    TRAIN_IMAGES images on each side, the time reported per step."""
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
                # In place, as torch.optim.SGD updates its parameters.
                grad *= 1e-4
                model.params[key] -= grad

    def torch_epoch():
        for batch in batches:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(images_t[batch]), labels_t[batch])
            loss.backward()
            optimizer.step()

    pair = paired(course_epoch, torch_epoch, {"rounds": settings["rounds"], "min_seconds": 0})
    steps = len(batches)
    pair["ours"] /= steps
    pair["torch"] /= steps
    return [timing_row(f"ThreeLayerConvNet training step (batch {TRAIN_BATCH}, epochs of {TRAIN_IMAGES})",
                       pair, TARGETS["training"])]


def worker(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    settings = {"rounds": args.pairs, "min_seconds": args.min_seconds}
    results = {"threads": args.threads, "load_before": os.getloadavg(), "dtypes": {},
               "cores": sorted(os.sched_getaffinity(0))}
    for dtype in args.dtypes:
        peak, torch_peak = matmul_rate(np.dtype(dtype), settings)
        rows = conv_rows(dtype, settings, peak) + pool_rows(dtype, settings)
        rows += training_rows(dtype, settings)
        results["dtypes"][dtype] = {"matmul_gflops": peak, "torch_matmul_gflops": torch_peak, "rows": rows,
                                    "naive": naive_rows(dtype, settings), "batch": batch_rows(dtype, settings)}
    results["load_after"] = os.getloadavg()
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
        command = [sys.executable, "-m", "benchmarks.run", "--grade-reference", assignment]
        completed = subprocess.run(command, env=thread_environment(1), stdout=subprocess.PIPE, check=True,
                                   cwd=REPO_ROOT, preexec_fn=lambda: os.sched_setaffinity(0, one_core))
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


def print_tables(machine, results):
    print("## course_lib vs torch CPU\n")
    for key, value in machine.items():
        print(f"- {key}: {value}")
    print("\nRatio = median over interleaved pairs of course_lib time / torch time "
          "(< 1: course_lib is faster); times are medians.\n")
    for result in results:
        before, after = (", ".join(f"{v:.1f}" for v in result[key]) for key in ("load_before", "load_after"))
        print(f"Load average (1, 5, 15 min) {before} before and {after} after the "
              f"{result['threads']}-thread run, on cores {result['cores']}.\n")
        for dtype, block in result["dtypes"].items():
            print_block(result["threads"], dtype, block)


def print_block(threads, dtype, block):
    print(f"### {threads} thread(s), {dtype}: matmul {block['matmul_gflops']:.0f} GFLOP/s "
          f"(NumPy), {block['torch_matmul_gflops']:.0f} (torch)\n")
    print("| case | course_lib ms | torch ms | ratio | target | pairs | GFLOP/s (% of matmul) | torch GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in block["rows"]:
        rate = torch_rate = ""
        if "gflops" in row:
            rate = f"{row['gflops']:.0f} ({100 * row['of_matmul']:.0f}%)"
            torch_rate = f"{row['torch_gflops']:.0f}"
        met = "met" if row["ratio"] <= row["target"] else "**missed**"
        print(f"| {row['name']} | {row['ours_ms']:.2f} | {row['torch_ms']:.2f} | {row['ratio']:.2f} "
              f"| <= {row['target']:.1f} {met} | {row['pairs']} | {rate} | {torch_rate} |")
    print(f"\nNaive layers (course_lib.conv_layers) against the fast ones and torch, {dtype}; "
          "medians of interleaved rounds:\n")
    print("| case | naive ms | fast ms | torch ms | naive / fast | naive / torch |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in block["naive"]:
        print(f"| {row['name']} | {row['naive_ms']:.2f} | {row['fast_ms']:.2f} | {row['torch_ms']:.2f} "
              f"| {row['naive_over_fast']:.1f}x | {row['naive_over_torch']:.1f}x |")
    image_shape, w_shape, stride, pad = BATCH_CONV
    print(f"\nBatch size: conv Nx{'x'.join(map(str, image_shape))} * {'x'.join(map(str, w_shape))} "
          f"s{stride} p{pad}, {dtype}; ms per batch (ratio):\n")
    print("| N | forward course_lib | forward torch | ratio | backward course_lib | backward torch | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in block["batch"]:
        f, b = row["forward"], row["backward"]
        print(f"| {row['n']} | {f['ours_ms']:.2f} | {f['torch_ms']:.2f} | {f['ratio']:.2f} "
              f"| {b['ours_ms']:.2f} | {b['torch_ms']:.2f} | {b['ratio']:.2f} |")
    print()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--dtypes", default="float32,float64", help="comma-separated dtypes")
    parser.add_argument("--quick", action="store_true", help="7 pairs and no minimum time, for a smoke test")
    parser.add_argument("--pairs", type=int, default=None,
                        help="interleaved pairs per row, at least 7 (default 21, --quick 7)")
    parser.add_argument("--core", type=int, default=None,
                        help="core the 1-thread worker is pinned to (default: the last one available)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results here")
    parser.add_argument("--grading", default="hw3,hw4,hw5,svhn",
                        help="assignments whose reference to grade on one core ('' to skip)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--grade-reference", metavar="ASSIGNMENT", help=argparse.SUPPRESS)
    parser.add_argument("--min-seconds", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dtypes = args.dtypes.split(",")
    unknown = set(args.dtypes) - {"float32", "float64"}
    if unknown:
        parser.error(f"unknown dtype(s) {sorted(unknown)}: use float32 and/or float64")
    if args.pairs is None:
        args.pairs = 7 if args.quick else 21
    if args.pairs < 7:
        parser.error(f"--pairs {args.pairs}: a median needs at least 7 pairs")
    available = sorted(os.sched_getaffinity(0))
    if args.core is None:
        args.core = available[-1]
    elif args.core not in available:
        parser.error(f"--core {args.core}: this process may only run on cores {available}")
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
        command = [sys.executable, "-m", "benchmarks.run", "--worker", "--threads", str(threads),
                   "--dtypes", ",".join(args.dtypes), "--pairs", str(args.pairs),
                   "--min-seconds", str(args.min_seconds)]
        print(f"running with {threads} thread(s)...", file=sys.stderr)
        # One thread runs on one core, so that the scheduler does not move it mid-pair.
        cores = {args.core} if threads == 1 else set(os.sched_getaffinity(0))
        completed = subprocess.run(command, env=thread_environment(threads), stdout=subprocess.PIPE, check=True,
                                   cwd=REPO_ROOT,
                                   preexec_fn=lambda cores=cores: os.sched_setaffinity(0, cores))
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
