"""Weights through the real huggingface_hub client against a local Hub on 127.0.0.1 (tests/helpers/hub_server.py).

Every scenario runs in a fresh process with HF_ENDPOINT/HF_HOME/HF_HUB_CACHE set before huggingface_hub is
imported; proxies are unset and nothing can reach the real Hub.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hub_fixtures import expected_score, run_client
from tiny_models import TINY_MANIQA, make_tiny_network

REPO = "org/tiny-rqi"


def pickle_bytes(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def tiny_record(
    revision: str = "main", sha256: str | None = None, repo_id: str = REPO, filename: str = "rqi_weights.pt"
):
    return dict(
        name="tiny-test",
        description="tiny test network",
        architecture="maniqa_rqi",
        config=TINY_MANIQA,
        repo_id=repo_id,
        filename=filename,
        revision=revision,
        sha256=sha256,
        checkpoint_format="state_dict_pickle",
        license="test",
        citation="test",
    )


@pytest.fixture
def tiny_weights():
    network = make_tiny_network(seed=5)
    state = dict(network.state_dict())
    state["vit.head.weight"] = torch.zeros(10, TINY_MANIQA["vit_width"])  # carried, unused, like the authors'
    data = pickle_bytes(state)
    return network, data, hashlib.sha256(data).hexdigest()


def test_first_download_then_cache(hub, hf_env, tiny_weights):
    network, data, digest = tiny_weights
    commit = hub.add_commit(REPO, {"rqi_weights.pt": data})
    first = run_client(hf_env, register=tiny_record("main", digest), action="loss", name="tiny-test")
    assert first["ok"] and first["score"] == pytest.approx(expected_score(network), abs=1e-6)
    assert hub.requests_for("rqi_weights.pt") == ["HEAD", "GET"]

    hub.log.clear()  # a cached, pinned 40-hex revision needs no request at all
    again = run_client(hf_env, register=tiny_record(commit, digest), action="loss", name="tiny-test")
    assert again == first and hub.log == []

    offline = run_client(
        {**hf_env, "HF_HUB_OFFLINE": "1"}, register=tiny_record("main"), action="loss", name="tiny-test"
    )
    assert offline == first and hub.log == []


def test_offline_and_not_cached(hf_env):
    result = run_client({**hf_env, "HF_HUB_OFFLINE": "1"}, register=tiny_record(), action="loss", name="tiny-test")
    assert result["type"] == "WeightsError"
    assert "model 'tiny-test'" in result["message"] and REPO in result["message"]
    assert "not in the local Hub cache" in result["message"] and "checkpoint_path" in result["message"]


@pytest.mark.parametrize(
    "record, phrase",
    [
        (tiny_record(repo_id="org/missing"), "Hub repo 'org/missing' not found"),
        (tiny_record(filename="nope.pt"), "file 'nope.pt' not found in Hub repo 'org/tiny-rqi'"),
        (tiny_record(revision="v9"), "revision 'v9' does not exist in Hub repo 'org/tiny-rqi'"),
    ],
    ids=["repo", "file", "revision"],
)
def test_missing_repo_file_revision(hub, hf_env, tiny_weights, record, phrase):
    hub.add_commit(REPO, {"rqi_weights.pt": tiny_weights[1]})
    result = run_client(hf_env, register=record, action="loss", name="tiny-test")
    assert result["type"] == "WeightsError" and phrase in result["message"], result


def test_corrupt_file_of_right_size_is_caught(hub, hf_env, tiny_weights, tmp_path):
    _, data, digest = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    hub.faults[(REPO, "rqi_weights.pt")] = "corrupt"
    result = run_client(hf_env, register=tiny_record(sha256=digest), action="loss", name="tiny-test")
    assert result["type"] == "ChecksumError" and "sha256" in result["message"] and "twice" in result["message"]
    assert hub.requests_for("rqi_weights.pt").count("GET") == 2  # downloaded once more before failing
    blobs = list((tmp_path / "hf_cache").rglob("blobs/*"))
    assert blobs == []  # nothing corrupt left in the cache


def test_dropped_connection(hub, hf_env, tiny_weights):
    hub.add_commit(REPO, {"rqi_weights.pt": tiny_weights[1]})
    hub.faults[(REPO, "rqi_weights.pt")] = "drop"
    result = run_client(hf_env, register=tiny_record(), action="loss", name="tiny-test")
    assert result["type"] == "WeightsError" and "connection failed" in result["message"], result
    assert "checkpoint_path" in result["message"]


def _hub_folder_files(network, tmp_path: Path, tag: str) -> dict[str, bytes]:
    folder = network.save_pretrained(tmp_path / tag, name="tiny", description=tag)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_hf_hub_names_with_revisions(hub, hf_env, tmp_path):
    old, new = make_tiny_network(seed=1), make_tiny_network(seed=2)
    old_commit = hub.add_commit("org/folder", _hub_folder_files(old, tmp_path, "old"))
    hub.add_commit("org/folder", _hub_folder_files(new, tmp_path, "new"))
    latest = run_client(hf_env, action="create", name="hf-hub:org/folder")
    pinned = run_client(hf_env, action="create", name=f"hf-hub:org/folder@{old_commit}")
    via_loss = run_client(hf_env, action="from_pretrained", name="org/folder", kwargs={"revision": old_commit})
    assert latest["score"] == pytest.approx(expected_score(new), abs=1e-6)
    assert pinned["score"] == pytest.approx(expected_score(old), abs=1e-6)
    assert via_loss == pinned


def test_hf_hub_folder_without_config_is_an_error(hub, hf_env, tmp_path):
    files = _hub_folder_files(make_tiny_network(), tmp_path, "x")
    del files["config.json"]
    hub.add_commit("org/noconfig", files)
    result = run_client(hf_env, action="create", name="hf-hub:org/noconfig")
    assert result["type"] == "WeightsError" and "'org/noconfig'@'main' has no 'config.json'" in result["message"]


def test_ddp_both_ranks_build_at_once_and_the_hub_sees_one_download(hub, hf_env, tiny_weights):
    network, data, digest = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    result = run_client(hf_env, register=tiny_record(sha256=digest), action="loss", name="tiny-test", ddp=2)
    scores = [r["score"] for r in result["ranks"]]
    assert scores == pytest.approx([expected_score(network)] * 2, abs=1e-6)
    assert hub.requests_for("rqi_weights.pt").count("GET") == 1  # the client's file lock: one download


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_ddp_rank_zero_alone_builds_without_hanging(hub, hf_env, tiny_weights, cache):
    """As in BasicSR's rank-0-only validation: building a Hub network on one rank runs no collective."""
    network, data, _ = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    if cache == "warm":
        assert run_client(hf_env, register=tiny_record(), action="loss", name="tiny-test")["ok"]
    result = run_client(hf_env, register=tiny_record(), action="loss", name="tiny-test", ddp=2, build_ranks=[0])
    assert result["ranks"][0]["score"] == pytest.approx(expected_score(network), abs=1e-6)
    assert result["ranks"][1] == {"ok": True, "skipped": True}


def test_prefetch_is_a_collective_that_downloads_once(hub, hf_env, tiny_weights):
    network, data, _ = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    result = run_client(
        hf_env, register=tiny_record(), action="loss", name="tiny-test", ddp=2, build_ranks=[0], prefetch=True
    )
    assert result["ranks"][0]["score"] == pytest.approx(expected_score(network), abs=1e-6)
    gets = hub.requests_for("rqi_weights.pt")
    assert gets.count("GET") == 1 and gets[:2] == ["HEAD", "GET"]  # rank 0 first; the others only checked


@pytest.mark.parametrize(
    ("damage", "cache"),
    [
        ("tensor_byte", "symlinks"),
        ("truncated", "no symlinks"),
        pytest.param("tensor_byte", "no symlinks", marks=pytest.mark.slow),  # the other two: about 7 s each
        pytest.param("truncated", "symlinks", marks=pytest.mark.slow),
    ],
)
def test_unpinned_cache_file_corrupted_after_download_is_refused(hub, hf_env, tiny_weights, tmp_path, damage, cache):
    """No sha256 pin (as maniqa-pipal today): the file is checked on every load against the digest the Hub gave
    at download: the name of its blob in a cache with symlinks; in a cache without them
    (HF_HUB_DISABLE_SYMLINKS=1, Windows without developer mode), the digest recorded at the first load. The
    corrupted file is loaded offline, so the check cannot ask the Hub again."""
    _, data, _ = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    env = {**hf_env, "HF_HUB_DISABLE_SYMLINKS": "1"} if cache == "no symlinks" else hf_env
    assert run_client(env, register=tiny_record(), action="loss", name="tiny-test")["ok"]
    (cached,) = (tmp_path / "hf_cache").rglob("snapshots/*/rqi_weights.pt")
    assert cached.is_symlink() == (cache == "symlinks")
    stored = cached.resolve()
    content = bytearray(stored.read_bytes())
    if damage == "tensor_byte":
        content[len(content) // 2] ^= 0x01  # inside a tensor's storage: torch.load alone would not notice
    else:
        content = content[: len(content) // 2]
    stored.write_bytes(bytes(content))
    result = run_client({**env, "HF_HUB_OFFLINE": "1"}, register=tiny_record(), action="loss", name="tiny-test")
    assert result["type"] == "ChecksumError", result
    assert "is corrupt" in result["message"] and "--force-download" in result["message"]
    assert str(stored) in result["message"]


def test_zoo_names_take_the_hub_options(hub, hf_env, tiny_weights, tmp_path):
    """cache_dir, local_files_only and token reach the download of a zoo name's weights, as for hf-hub: names."""
    network, data, _ = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    elsewhere = tmp_path / "elsewhere"
    only_cache = dict(cache_dir=str(elsewhere), local_files_only=True)
    missing = run_client(hf_env, register=tiny_record(), action="create", name="tiny-test", kwargs=only_cache)
    assert missing["type"] == "WeightsError" and "not in the local Hub cache" in missing["message"]
    assert hub.log == []  # local_files_only: no request
    kwargs = dict(cache_dir=str(elsewhere), token="hf_test_token")
    fetched = run_client(hf_env, register=tiny_record(), action="create", name="tiny-test", kwargs=kwargs)
    assert fetched["score"] == pytest.approx(expected_score(network), abs=1e-6)
    assert list(elsewhere.rglob("rqi_weights.pt")) and not list((tmp_path / "hf_cache").rglob("rqi_weights.pt"))
    assert set(hub.read_authorizations) == {"Bearer hf_test_token"}
    hub.log.clear()
    cached = run_client(hf_env, register=tiny_record(), action="create", name="tiny-test", kwargs=only_cache)
    assert cached == fetched and hub.log == []


def test_corrupt_pinned_file_offline_is_removed_with_advice(hub, hf_env, tiny_weights, tmp_path):
    """A pinned file corrupted in the cache, loaded offline: ChecksumError saying so (not huggingface_hub's
    'force_download when offline'), and the corrupt copy removed."""
    _, data, digest = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    assert run_client(hf_env, register=tiny_record(sha256=digest), action="loss", name="tiny-test")["ok"]
    (blob,) = (tmp_path / "hf_cache").rglob("blobs/*")
    content = bytearray(blob.read_bytes())
    content[len(content) // 2] ^= 0x01
    blob.write_bytes(bytes(content))
    offline = {**hf_env, "HF_HUB_OFFLINE": "1"}
    result = run_client(offline, register=tiny_record(sha256=digest), action="loss", name="tiny-test")
    assert result["type"] == "ChecksumError", result
    assert "is corrupt" in result["message"] and "The cached copy was removed" in result["message"]
    assert "offline" in result["message"] and "force_download" not in result["message"]
    assert not list((tmp_path / "hf_cache").rglob("blobs/*"))


def test_upper_case_sha256_pin_matches_the_file(hub, hf_env, tiny_weights):
    """A pin pasted as Windows prints it (upper case) is the same digest: one download, no 'corrupt' verdict."""
    _, data, digest = tiny_weights
    hub.add_commit(REPO, {"rqi_weights.pt": data})
    result = run_client(hf_env, register=tiny_record(sha256=digest.upper()), action="loss", name="tiny-test")
    assert result["ok"], result
    assert hub.requests_for("rqi_weights.pt").count("GET") == 1


def test_pin_printing_script(hub, hf_env, tiny_weights):
    commit = hub.add_commit("shaolin999/rqi", {"rqi_weights.pt": tiny_weights[1]})
    script = Path(__file__).resolve().parents[2] / "weights" / "print_pins.py"
    out = subprocess.run([sys.executable, str(script)], env=hf_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f'revision="{commit}"' in out.stdout and f'sha256="{tiny_weights[2]}"' in out.stdout


def test_rqi_score_ranks_with_a_hub_network(hub, hf_env, tmp_path):
    """rqi-score with --model hf-hub:...: the embedded network's files served by the local Hub give the same
    scores as the embedded network itself."""
    import cv2
    import numpy as np
    from skimage import data

    package = Path(__file__).resolve().parents[2] / "rqi_loss" / "pretrained" / "tiny-kadid-synth"
    hub.add_commit("org/tiny", {name: (package / name).read_bytes() for name in ("config.json", "model.safetensors")})
    photo = data.coffee()[:, :, ::-1]  # BGR for OpenCV
    (tmp_path / "gt").mkdir()
    (tmp_path / "blur").mkdir()
    for i in range(2):
        scene = np.ascontiguousarray(photo[100 * i : 100 * i + 180, 150:330])
        cv2.imwrite(str(tmp_path / "gt" / f"{i}.png"), scene)
        cv2.imwrite(str(tmp_path / "blur" / f"{i}.png"), cv2.GaussianBlur(scene, (0, 0), 2.5))
    scores = {}
    for model in ("hf-hub:org/tiny", "tiny-kadid-synth"):
        out = tmp_path / f"{model.replace(':', '_').replace('/', '_')}.json"
        command = [sys.executable, "-m", "rqi_loss.metric.cli", str(tmp_path / "blur"), str(tmp_path / "gt")]
        done = subprocess.run(
            command + ["--model", model, "--out", str(out), "--quiet", "--device", "cpu"],
            env=hf_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "rank" in done.stdout and "blur" in done.stdout
        scores[model] = json.loads(out.read_text())["scores"]["blur"]
    assert scores["hf-hub:org/tiny"] == scores["tiny-kadid-synth"]
    assert all(value < 0 for value in scores["tiny-kadid-synth"].values())


@pytest.mark.parametrize("algorithm", ["sha256", "git-sha1"])
def test_cached_blob_is_checked_against_its_etag_name(tmp_path, algorithm):
    """LFS files sit in the cache under their sha256, other files under their git blob sha1: both are checked."""
    from rqi_loss import ChecksumError
    from rqi_loss.weights._hub import verify_cached_file

    data = b'{"architecture": "rqi_cnn"}\n'
    digest = (
        hashlib.sha256(data).hexdigest()
        if algorithm == "sha256"
        else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    )
    blob = tmp_path / "blobs" / digest
    blob.parent.mkdir()
    blob.write_bytes(data)
    link = tmp_path / "snapshots" / "c0ffee" / "config.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(blob)
    where = dict(model="m", repo_id="org/r", filename="config.json", revision="main")
    verify_cached_file(link, **where)  # intact: no error
    blob.write_bytes(data.replace(b"cnn", b"cnm"))
    with pytest.raises(ChecksumError, match=f"its {algorithm} is [0-9a-f]+, the Hub gave {digest}"):
        verify_cached_file(link, **where)


def test_records_check_their_pins():
    from rqi_loss.zoo import PretrainedModel

    fields = {**tiny_record(), "revision": "A" * 40}
    with pytest.raises(ValueError, match="sha256 must be 64 hexadecimal digits .* got 'abc'"):
        PretrainedModel(**{**fields, "sha256": "abc"})
    record = PretrainedModel(**{**fields, "sha256": "AB" * 32})
    assert record.sha256 == "ab" * 32 and record.revision == "a" * 40 and record.pinned
