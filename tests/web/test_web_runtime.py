"""ONNX Runtime Web is vendored from the npm tarball: checked, cached, refused when tampered."""

from __future__ import annotations

import io
import re
import shutil
import tarfile

import pytest

from cnnviz.web.runtime import (
    ORT_FILES,
    RuntimeUnavailableError,
    integrity_problem,
    runtime_tarball,
    tarball_name,
    vendor_runtime,
)
from tests.conftest import free_port, serve_directory


@pytest.fixture(scope="module")
def published(web_site):
    """The verified tarball in the user cache (the site's build fetched it)."""
    return runtime_tarball(progress=False)


def registry_serving(folder, tarball_bytes: bytes):
    """A folder laid out as the npm registry serves onnxruntime-web's tarball."""
    package = folder / "onnxruntime-web" / "-"
    package.mkdir(parents=True)
    (package / tarball_name()).write_bytes(tarball_bytes)
    return folder


def closed_registry() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there: as if offline


def test_a_tampered_tarball_is_refused_and_never_cached(tmp_path):
    fake = io.BytesIO()
    with tarfile.open(fileobj=fake, mode="w:gz") as archive:
        for name in ORT_FILES:
            member = tarfile.TarInfo(f"package/dist/{name}")
            member.size = 9
            archive.addfile(member, io.BytesIO(b"alert(1);"))
    served = registry_serving(tmp_path / "registry", fake.getvalue())
    cache = tmp_path / "cache"
    with serve_directory(served) as url, pytest.raises(RuntimeUnavailableError) as error:
        runtime_tarball(cache_dir=cache, registry=url, progress=False)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"refused {url}/onnxruntime-web/-/{tarball_name()}")
    assert "integrity mismatch" in message
    assert not any(cache.iterdir())  # no file, no partial download


def test_offline_is_one_clear_line(tmp_path):
    with pytest.raises(RuntimeUnavailableError) as error:
        runtime_tarball(cache_dir=tmp_path, registry=closed_registry(), progress=False)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("could not download ONNX Runtime Web 1.30.0 from http://127.0.0.1")
    assert "Connection refused" in message and str(tmp_path) in message


def test_the_cached_copy_is_reused_without_the_network(tmp_path, published):
    shutil.copyfile(published, tmp_path / tarball_name())
    found = runtime_tarball(cache_dir=tmp_path, registry=closed_registry(), progress=False)
    assert found == tmp_path / tarball_name()
    assert integrity_problem(found) is None


def test_a_corrupt_cached_copy_is_downloaded_again(tmp_path, published):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / tarball_name()).write_bytes(b"truncated")
    served = registry_serving(tmp_path / "registry", published.read_bytes())
    with serve_directory(served) as url:
        found = runtime_tarball(cache_dir=cache, registry=url, progress=False)
    assert found.read_bytes() == published.read_bytes()


def test_the_site_gets_the_wasm_backend_and_the_module_it_imports(web_site, published):
    vendored = vendor_runtime(web_site / "ort", tarball=published)
    assert set(vendored.files) == set(ORT_FILES)
    with tarfile.open(published) as archive:
        for name in ORT_FILES:
            packed = archive.extractfile(f"package/dist/{name}").read()
            assert (web_site / "ort" / name).read_bytes() == packed
    entry = (web_site / "ort" / "ort.wasm.min.mjs").read_text()
    glue = (web_site / "ort" / "ort-wasm-simd-threaded.mjs").read_text()
    referenced = set(re.findall(r"ort[\w.-]*\.(?:mjs|wasm)", entry + glue))
    assert referenced <= set(ORT_FILES)  # nothing else is loaded from ort/
    assert "ort-wasm-simd-threaded.mjs" in referenced
