"""What the benchmark ran on: CPU, library versions, BLAS and allocator settings."""
import os
import platform


def cython_version():
    """Cython builds the extension in pip's isolated build environment, so it is usually not
    installed beside it; the version that built it is then unknown here."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("Cython")
    except PackageNotFoundError:
        return "not installed (only pip's build environment had it)"


def machine_description():
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
        "cython": cython_version(),
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
