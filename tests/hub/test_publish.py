"""Publishing through the real huggingface_hub client to the local Hub stand-in: push_to_hub of a network
and of an RQILoss, a pinned round trip with identical scores, branches, the token, the model card's YAML
metadata (ModelCardData), and loading options (local folder, cache_dir, local_files_only)."""

from __future__ import annotations

import pytest

from hub_fixtures import expected_score, run_client
from tiny_models import make_tiny_network

REPO = "org/published"
CARD = {
    "license": "apache-2.0",
    "datasets": ["kadid10k"],
    "results": [
        {"metric": "srcc", "value": 0.87, "name": "image SRCC", "dataset": "kadid-synth", "dataset_name": "held out"}
    ],
}


def _file(hub, repo_id: str, commit: str, name: str) -> bytes:  # noqa: F811
    return hub.repos[repo_id]["commits"][commit][name]


def test_push_then_pinned_loads_score_identically(hub, hf_env, tmp_path):
    push = dict(action="push", name=REPO, kwargs={"token": "hf_test_token", "card_metadata": CARD})
    first = run_client(hf_env, seed=3, **push)
    second = run_client(hf_env, seed=4, via="loss", **{**push, "kwargs": {"token": "hf_test_token"}})
    assert first["ok"] and second["ok"] and first["commit"] != second["commit"]
    assert set(hub.authorizations) == {"Bearer hf_test_token"}  # every upload request carried the token

    pinned = run_client(hf_env, action="create", name=f"hf-hub:{REPO}@{first['commit']}")
    latest = run_client(hf_env, action="from_pretrained", name=REPO)
    assert pinned["score"] == expected_score(make_tiny_network(seed=3))  # identical, not merely close
    assert latest["score"] == expected_score(make_tiny_network(seed=4))

    from huggingface_hub import ModelCard

    card = ModelCard(_file(hub, REPO, first["commit"], "README.md").decode())
    assert card.data.library_name == "rqi_loss" and card.data.license == "apache-2.0"
    assert card.data.datasets == ["kadid10k"] and "maniqa_rqi" in card.data.tags  # the tiny test network is a MANIQA
    (result,) = card.data.eval_results
    assert (result.metric_type, result.metric_value, result.dataset_type) == ("srcc", 0.87, "kadid-synth")
    assert ModelCard(_file(hub, REPO, second["commit"], "README.md").decode()).data.license is None


def test_push_to_a_branch_leaves_main(hub, hf_env):
    main = run_client(hf_env, action="push", name=REPO, seed=3)["commit"]
    dev = run_client(hf_env, action="push", name=REPO, seed=4, kwargs={"revision": "dev", "commit_message": "try"})
    assert hub.repos[REPO]["refs"] == {"main": main, "dev": dev["commit"]}
    assert hub.repos[REPO]["messages"][dev["commit"]] == "try"
    on_dev = run_client(hf_env, action="create", name=f"hf-hub:{REPO}@dev")
    assert on_dev["score"] == expected_score(make_tiny_network(seed=4))
    bad = run_client(hf_env, action="push", name="no-owner", seed=3)
    assert not bad["ok"] and "repo_id must be 'owner/name'" in bad["message"]


def test_loading_options_local_folder_cache_dir_and_local_files_only(hub, hf_env, tmp_path):
    import rqi_loss

    network = make_tiny_network(seed=6)
    folder = network.save_pretrained(tmp_path / "local")
    assert rqi_loss.RQILoss(f"local-dir:{folder}").network.state_dict().keys() == network.state_dict().keys()
    assert rqi_loss.create_network(f"local-dir:{folder}")(*[t for t in _pair(network)]).item() == pytest.approx(
        expected_score(network), abs=0
    )

    commit = run_client(hf_env, action="push", name=REPO, seed=6)["commit"]
    cache = tmp_path / "own_cache"
    options = {"revision": commit, "cache_dir": str(cache)}
    first = run_client(hf_env, action="from_pretrained", name=REPO, kwargs=options)
    assert any(cache.rglob("model.safetensors"))
    assert hub.read_authorizations[-1] is None  # no token given, none logged in
    fresh = {**options, "cache_dir": str(tmp_path / "second_cache"), "token": "hf_read"}
    with_token = run_client(hf_env, action="from_pretrained", name=REPO, kwargs=fresh)
    assert with_token["score"] == first["score"] and hub.read_authorizations[-1] == "Bearer hf_read"
    requests = len(hub.log)
    offline = run_client(hf_env, action="from_pretrained", name=REPO, kwargs={**options, "local_files_only": True})
    assert offline["score"] == first["score"] == expected_score(network)
    assert len(hub.log) == requests  # from the cache alone: no request at all
    missing = run_client(
        hf_env,
        action="from_pretrained",
        name=REPO,
        kwargs={"cache_dir": str(tmp_path / "empty"), "local_files_only": True},
    )
    assert missing["type"] == "WeightsError" and "not in the local Hub cache" in missing["message"]


def _pair(network):
    from hub_client import fixed_pair

    return fixed_pair(network.input_size)


def test_docs_publishing_block_runs_as_written(hub, hf_env, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "weights.md").read_text()
    block = readme.split("### Publishing a judge", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    make_tiny_network(seed=8).save_pretrained(tmp_path / "runs" / "my-judge")
    check = (
        "\nimport torch\nmine, theirs = network.state_dict(), loss.network.state_dict()\n"
        "assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", block + check], cwd=tmp_path, env=hf_env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (commit,) = [c for c in hub.repos["my-lab/my-judge"]["commits"]]
    assert hub.repos["my-lab/my-judge"]["messages"][commit] == "KADID-trained judge"
