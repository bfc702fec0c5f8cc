"""course_lib.fetch against a loopback HTTP server serving stand-in archives."""
import functools
import hashlib
import http.server
import io
import tarfile
import threading

import numpy as np
import pytest

from course_lib import fetch
from course_lib.data_utils import SVHN_data, get_CIFAR10_data
from tests.helpers import load_standin

CIFAR_ARCHIVE = "cifar-10-python.tar.gz"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        QuietHandler.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server over tmp_path/served; yields (folder, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    QuietHandler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/mirror/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def md5_of(path):
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def serve_cifar(served, standin_dir):
    (served / "mirror").mkdir(exist_ok=True)
    archive = served / "mirror" / CIFAR_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(standin_dir / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return {CIFAR_ARCHIVE: md5_of(archive)}


def serve_svhn(served, standin_dir):
    (served / "mirror").mkdir(exist_ok=True)
    checksums = {}
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (served / "mirror" / name).write_bytes((standin_dir / "svhn" / name).read_bytes())
        checksums[name] = md5_of(served / "mirror" / name)
    return checksums


def test_fetch_cifar10_downloads_verifies_and_extracts(server, standin_dir, tmp_path):
    served, url = server
    checksums = serve_cifar(served, standin_dir)
    root = tmp_path / "data"
    folder = fetch.fetch("cifar10", root=root, base_url=url, checksums=checksums, progress=False)
    assert folder == root / "cifar-10-batches-py"
    assert (folder / "data_batch_3").read_bytes() == (standin_dir / "cifar-10-batches-py" / "data_batch_3").read_bytes()
    assert not (root / CIFAR_ARCHIVE).exists()
    # The served archive holds the stand-in, marker included, so the loader must say so.
    data = load_standin(root, get_CIFAR10_data, 100, 10, 10)
    assert data["X_train"].shape == (100, 3, 32, 32)


def test_fetch_svhn_and_base_url_from_the_environment(server, standin_dir, tmp_path, monkeypatch):
    served, url = server
    checksums = serve_svhn(served, standin_dir)
    monkeypatch.setenv("COURSE_DATA_BASE_URL", url)
    folder = fetch.fetch("svhn", root=tmp_path / "data", checksums=checksums, progress=False)
    assert sorted(QuietHandler.requests) == ["/mirror/test_32x32.mat", "/mirror/train_32x32.mat"]
    assert md5_of(folder / "train_32x32.mat") == checksums["train_32x32.mat"]
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    data = SVHN_data(100, 10)
    assert np.unique(data["labels_train"]).size == 10


def test_a_second_fetch_downloads_nothing(server, standin_dir, tmp_path, capsys):
    served, url = server
    checksums = serve_svhn(served, standin_dir)
    fetch.fetch("svhn", root=tmp_path, base_url=url, checksums=checksums, progress=False)
    count = len(QuietHandler.requests)
    fetch.fetch("svhn", root=tmp_path, base_url=url, checksums=checksums, progress=False)
    assert len(QuietHandler.requests) == count
    assert "already present" in capsys.readouterr().out


def test_checksum_mismatch_deletes_the_download(server, standin_dir, tmp_path):
    served, url = server
    checksums = dict(serve_svhn(served, standin_dir), **{"train_32x32.mat": "0" * 32})
    with pytest.raises(fetch.ChecksumError, match="not the published 0{32}.*deleted"):
        fetch.fetch("svhn", root=tmp_path, base_url=url, checksums=checksums, progress=False)
    assert not any(path.name.startswith("train_32x32") for path in (tmp_path / "svhn").iterdir())


def test_http_404_is_a_clear_error(server, tmp_path):
    _, url = server
    with pytest.raises(fetch.FetchError, match="HTTP 404") as error:
        fetch.fetch("cifar10", root=tmp_path, base_url=url, progress=False)
    assert CIFAR_ARCHIVE in str(error.value)
    assert not list(tmp_path.glob("*.part"))


def test_command_line_refuses_files_that_are_not_the_official_ones(server, standin_dir, tmp_path, capsys):
    served, url = server
    serve_svhn(served, standin_dir)
    assert fetch.main(["svhn", "--dir", str(tmp_path), "--base-url", url]) == 1
    error = capsys.readouterr().err
    assert "error: http://127.0.0.1" in error and "not the published" in error
    assert not (tmp_path / "svhn" / "train_32x32.mat").exists()


def tar_with(member, content=b"x"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member.size = len(content) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(content) if member.isfile() else None)
    return buffer.getvalue()


def symlink_member():
    member = tarfile.TarInfo("cifar-10-batches-py/link")
    member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return member


@pytest.mark.parametrize("member, match", [
    (tarfile.TarInfo("../escaped.txt"), "outside"),
    (tarfile.TarInfo("/tmp/absolute.txt"), "outside"),
    (symlink_member(), "only regular files and folders"),
])
def test_extraction_refuses_members_that_leave_the_target(tmp_path, member, match):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_with(member))
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(fetch.FetchError, match=match):
        fetch.extract_tar(archive, target)
    assert not (tmp_path / "escaped.txt").exists() and not list(target.iterdir())


def test_unknown_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="choose one of: cifar10, svhn"):
        fetch.fetch("mnist", root=tmp_path)


def test_offline_failure_points_to_the_standin(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    # Nothing listens on port 9 (discard) of the loopback: the connection is refused, as offline.
    assert fetch.main(["cifar10", "--dir", str(tmp_path), "--base-url", "http://127.0.0.1:9/"]) == 1
    error = capsys.readouterr().err
    assert "could not download http://127.0.0.1:9/cifar-10-python.tar.gz" in error
    assert "`python -m course_lib.standin`" in error and str(tmp_path / "standin") in error
