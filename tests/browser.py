"""Opening generated pages in headless Chromium (Debian's package; `make test-tools` installs it as root)."""
import shutil
import subprocess

import pytest

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")


def chromium():
    """The Chromium executable, or a skip saying why there is none."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH: `make test-tools` installs Debian's package when run as root; "
                "without root, install it with `apt-get install chromium`")


def dump_dom(page, profile):
    """The page's DOM after its scripts ran (5 s of virtual time), as Chromium serializes it."""
    completed = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout
