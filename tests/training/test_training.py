"""The training recipe: tables, pairs, labels, split, config files, a short real run, export round trip."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rqi_loss import create_network
from rqi_loss.networks import build_network
from rqi_loss.training import (
    ImageRow,
    dense_pairs,
    load_config,
    parse_config,
    read_csv_table,
    read_iqa_table,
    reference_pairs,
    relative_labels,
    split_groups,
    train,
)
from rqi_loss.training.correlation import sign_accuracy, srcc
from rqi_loss.training.pairs import absolute_labels
from rqi_loss.training.synth import SynthSpec, make_kadid_synth

from tiny_training import tiny_config_values, tiny_dataset


def _rows(scenes=3, per_scene=4, groups=None):
    return [
        ImageRow(f"s{s}", f"s{s}/i{i}.png", 1.0 + i, groups[s] if groups else f"s{s}", f"s{s}/i0.png")
        for s in range(scenes)
        for i in range(per_scene)
    ]


def test_dense_pairs_counts_and_antisymmetric_labels():
    rows = _rows(scenes=3, per_scene=4)
    pairs = dense_pairs(rows)
    assert len(pairs) == 3 * 4 * 3
    assert all(rows[i].scene == rows[j].scene and i != j for i, j in pairs.tolist())
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)
    labels = relative_labels(rows, pairs, (1.0, 4.0))
    lookup = {tuple(p): label for p, label in zip(pairs.tolist(), labels.tolist())}
    assert all(lookup[(i, j)] == -lookup[(j, i)] for i, j in lookup)
    assert labels.min() == -1.0 and labels.max() == 1.0
    assert lookup[(1, 0)] == pytest.approx(1 / 3)


def test_absolute_labels_span_minus_one_to_one():
    rows = _rows(scenes=1, per_scene=5)
    assert absolute_labels(rows, torch.arange(5), (1.0, 5.0)).tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_reference_pairs_point_at_the_reference():
    rows = _rows(scenes=2, per_scene=3)
    pairs, extended = reference_pairs(rows)
    assert len(pairs) == 4  # the references themselves are not paired with themselves
    assert all(extended[j].image == extended[i].reference for i, j in pairs.tolist())


def test_split_has_no_group_on_both_sides():
    rows = _rows(scenes=10, per_scene=2, groups=[f"g{s // 2}" for s in range(10)])
    train_rows, val_rows = split_groups(rows, val_fraction=0.2, seed=3)
    train_groups, val_groups = {r.group for r in train_rows}, {r.group for r in val_rows}
    assert not train_groups & val_groups and len(val_groups) == 1
    assert len(train_rows) + len(val_rows) == len(rows)
    assert split_groups(rows, val_fraction=0.2, seed=3) == (train_rows, val_rows)


def _split_config(**data):
    """A config with seed 5 whose data section is ``data`` (the table is never read by the split)."""
    return parse_config({"name": "a", "architecture": "rqi_cnn", "data": {"table": "t", **data}, "seed": 5})


def test_split_seed_keeps_the_split_while_the_seed_changes():
    from rqi_loss.training.rows import train_val_split

    rows = _rows(scenes=10, per_scene=2, groups=[f"g{s // 2}" for s in range(10)])
    assert train_val_split(_split_config(), rows) == split_groups(rows, val_fraction=0.2, seed=5)
    assert train_val_split(_split_config(split_seed=3), rows) == split_groups(rows, val_fraction=0.2, seed=3)
    held_out = lambda split: {r.group for r in split[1]}  # noqa: E731
    assert any(held_out(split_groups(rows, seed=s)) != held_out(split_groups(rows, seed=3)) for s in range(5, 10))


def test_split_seed_also_fixes_the_validation_pairs():
    """Runs of two seeds that share a split validate on the same sampled pairs, so their numbers compare."""
    from rqi_loss.training.pairs import dense_validation_pairs

    rows = _rows(scenes=10, per_scene=4, groups=[f"g{s // 2}" for s in range(10)])
    base = {"name": "a", "architecture": "rqi_cnn", "data": {"table": "t", "split_seed": 3}, "optim": {"val_pairs": 30}}
    pairs = {seed: dense_validation_pairs(parse_config({**base, "seed": seed}), rows, (1, 5)) for seed in (0, 1)}
    assert len(pairs[0][0]) < 4 * 3 * 10  # a sample of the dense pairs, not all of them
    assert torch.equal(pairs[0][0], pairs[1][0]) and torch.equal(pairs[0][1], pairs[1][1])


def test_train_exclude_groups_drops_training_groups_but_keeps_the_split():
    from rqi_loss.training.rows import train_val_split

    rows = _rows(scenes=10, per_scene=2, groups=[f"g{s // 2}" for s in range(10)])
    train, val = train_val_split(_split_config(), rows)
    held_out, trained = sorted({r.group for r in val}), sorted({r.group for r in train})
    excluded = [trained[0], held_out[0]]  # a held-out group stays held out
    new_train, new_val = train_val_split(_split_config(train_exclude_groups=excluded), rows)
    assert new_val == val
    assert new_train == [r for r in train if r.group != trained[0]]
    with pytest.raises(ValueError, match=r"unknown groups \['nope'\]; the table has \['g0'"):
        train_val_split(_split_config(train_exclude_groups=["nope"]), rows)
    with pytest.raises(ValueError, match="leaves no training rows"):
        train_val_split(_split_config(train_exclude_groups=trained), rows)
    with pytest.raises(ValueError, match=r"config key data.train_exclude_groups: expected a list of strings; got 'g0'"):
        _split_config(train_exclude_groups="g0")


@pytest.mark.parametrize("augment, transforms", [("none", 1), ("flips", 4), ("dihedral", 8)])
def test_augmentations_move_both_crops_alike_and_draw_each_transform(tmp_path, augment, transforms):
    """Whole-image crops of a picture whose every pixel differs: each item must be one of the allowed
    transforms of it (none / 4 flips / all 8 rotations and mirror images), all of them drawn over 64
    items, and the second image of the pair (the negative) must be moved exactly alike."""
    from rqi_loss.training.dataset import ImageCache, PairDataset

    picture = np.arange(16 * 16 * 3, dtype=np.int64).reshape(16, 16, 3) % 251
    Image.fromarray(picture.astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((255 - picture).astype(np.uint8)).save(tmp_path / "b.png")
    pairs = torch.zeros(64, 2, dtype=torch.int64)
    pairs[:, 1] = 1
    images = [tmp_path / "a.png", tmp_path / "b.png"]
    dataset = PairDataset(images, pairs, torch.zeros(64), 16, train=True, cache=ImageCache(), augment=augment)
    original = torch.from_numpy(picture).permute(2, 0, 1).float() / 255
    dihedral = [t for k in range(4) for t in (original.rot90(k, (1, 2)), original.rot90(k, (1, 2)).transpose(1, 2))]
    seen = set()
    for a, b, _ in dataset:
        matches = [index for index, t in enumerate(dihedral) if torch.equal(a, t)]
        assert len(matches) == 1
        seen.add(matches[0])
        torch.testing.assert_close(b, 1 - a, atol=1e-6, rtol=0)
    index = lambda t: next(i for i, d in enumerate(dihedral) if torch.equal(t, d))  # noqa: E731
    flips = {index(original), index(original.flip(1)), index(original.flip(2)), index(original.flip((1, 2)))}
    allowed = {"none": {0}, "flips": flips, "dihedral": set(range(8))}[augment]
    assert seen == allowed and len(seen) == transforms
    with pytest.raises(ValueError, match=r"optim.augment must be one of \['none', 'flips', 'dihedral'\]; got 'rot'"):
        parse_config({"name": "a", "architecture": "rqi_cnn", "data": {"table": "t"}, "optim": {"augment": "rot"}})


def test_training_uses_the_configured_huber_delta(tmp_path, monkeypatch):
    """optim.huber_delta reaches every Huber loss the trainer computes (training steps and validation), and
    a different delta gives a different training run."""
    import torch.nn.functional as F

    table = tiny_dataset(tmp_path)
    real_huber, seen = F.huber_loss, []

    def recording_huber(input, target, *args, **kwargs):
        seen.append(kwargs.get("delta", args[1] if len(args) > 1 else 1.0))
        return real_huber(input, target, *args, **kwargs)

    monkeypatch.setattr(F, "huber_loss", recording_huber)
    weights = {}
    for delta in (0.05, 0.3):
        seen.clear()
        config = parse_config(tiny_config_values(table, f"delta{delta}", huber_delta=delta))
        train(config, tmp_path / f"delta{delta}", progress=False)
        assert len(seen) >= 3 and set(seen) == {delta}  # 2 training steps and the validation
        weights[delta] = create_network(tmp_path / f"delta{delta}").state_dict()
    assert any(not torch.equal(weights[0.05][k], weights[0.3][k]) for k in weights[0.05])


def test_metrics():
    assert srcc(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert srcc(np.array([1, 2, 2, 3]), np.array([3, 2, 2, 1])) == pytest.approx(-1.0)
    assert sign_accuracy(np.array([1.0, -1.0, 1.0]), np.array([0.5, 0.5, 0.0])) == 0.5


def test_csv_and_iqa_readers(tmp_path):
    (tmp_path / "t.csv").write_text("scene,image,mos,src\na,x.png,3.5,p\n")
    (row,) = read_csv_table(tmp_path / "t.csv", group_column="src")
    assert row == ImageRow("a", tmp_path / "x.png", 3.5, "p", None)
    (tmp_path / "k.csv").write_text(
        "dis_img_path,dis_type,ref_img_path,score\nd/I01_01_01.png,GBLUR,r/I01.png,4.5\nd/I01_01_02.png,GBLUR,r/I01.png,4.0\n"
    )
    rows = read_iqa_table(tmp_path / "k.csv", image_root=tmp_path / "img")
    assert [r.scene for r in rows] == ["r/I01.png"] * 2 and rows[0].reference == tmp_path / "img/r/I01.png"
    with_ref = read_iqa_table(tmp_path / "k.csv", image_root=tmp_path / "img", reference_mos=5.0)
    assert len(with_ref) == 3 and with_ref[-1].mos == 5.0 and with_ref[-1].image == with_ref[-1].reference
    with pytest.raises(ValueError, match=r"lacks columns \['mos'\]"):
        read_csv_table(tmp_path / "k.csv", scene_column="dis_type", image_column="dis_img_path")


COMMITTED_CONFIGS = sorted(Path(__file__).resolve().parents[2].glob("examples/train/*.yaml")) + sorted(
    Path(__file__).resolve().parents[2].glob("records/*/configs/*.yaml")
)


@pytest.mark.parametrize("path", COMMITTED_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_committed_training_configs_parse_and_build_their_networks(path):
    config = load_config(path)
    for changes in config.member_networks or [{}]:
        network = build_network(config.architecture, {**config.network, **changes})
        expected = config.network.get("input_size") or config.network.get("img_size", 224)  # rqi_cnn | maniqa_rqi
        assert network.input_size == expected


def test_config_files(tmp_path):
    (tmp_path / "c.yaml").write_text("name: a\narchitecture: rqi_cnn\ndata: {table: t.csv}\noptim: {epochs: 2}\n")
    assert load_config(tmp_path / "c.yaml").optim.epochs == 2
    (tmp_path / "c.toml").write_text('name = "a"\narchitecture = "rqi_cnn"\n[data]\ntable = "t.csv"\n')
    assert load_config(tmp_path / "c.toml").data.table == "t.csv"
    with pytest.raises(ValueError, match=r"unknown keys \['epoch'\] in optim"):
        parse_config({"name": "a", "architecture": "rqi_cnn", "data": {"table": "t"}, "optim": {"epoch": 2}})
    with pytest.raises(ValueError, match="recipe must be 'rqi' or 'traditional'"):
        parse_config({"name": "a", "architecture": "rqi_cnn", "data": {"table": "t"}, "recipe": "x"})
    with pytest.raises(ValueError, match="data.scenes_per_source must be a positive scene count, e.g. 5; got 0"):
        parse_config({"name": "a", "architecture": "rqi_cnn", "data": {"synthetic": "kadid", "scenes_per_source": 0}})


def test_kadid_synth_records_its_spec_and_refuses_another(tmp_path):
    spec = SynthSpec(scenes_per_source=1, sources=("chelsea",))
    table = make_kadid_synth(tmp_path, spec)
    rows = read_csv_table(table, group_column="source", reference_column="reference")
    assert len(rows) == 1 + 25 * 5 and {r.group for r in rows} == {"chelsea"}
    assert json.loads((tmp_path / "spec.json").read_text())["scenes_per_source"] == 1
    stamp = table.stat().st_mtime_ns
    assert make_kadid_synth(tmp_path, spec) == table and table.stat().st_mtime_ns == stamp  # reused as it is
    with pytest.raises(ValueError, match=r"another spec .*'scenes_per_source': \(1, 2\).*new folder"):
        make_kadid_synth(tmp_path, SynthSpec(scenes_per_source=2, sources=("chelsea",)))


def test_synthetic_sets_train_together_each_on_its_own_scale(tmp_path, monkeypatch):
    """data.synthetic: [kadid, tid2013]: each set generated in root/<set>, its scenes named <set>/<scene> (so
    pairs never cross sets), its MOS mapped from its own scale to [0, 1]; TID2013 rates no reference, so its
    references are no rows. Two photographs stand in for all of them."""
    import functools

    import rqi_loss.training.rows as rows_module
    from rqi_loss.training.pairs import dense_pairs
    from rqi_loss.training.rows import load_rows

    spec = functools.partial(SynthSpec, sources=("chelsea", "coffee"))
    monkeypatch.setattr(rows_module, "SynthSpec", spec)
    data = {"synthetic": ["kadid", "tid2013"], "root": str(tmp_path), "scenes_per_source": 1, "mos_range": [0, 1]}
    config = parse_config({"name": "both", "architecture": "rqi_cnn", "data": data})
    rows = load_rows(config)
    kadid = [r for r in rows if r.scene.startswith("kadid/")]
    tid = [r for r in rows if r.scene.startswith("tid2013/")]
    assert len(kadid) == 2 * (1 + 25 * 5) and len(tid) == 2 * 24 * 5 and len(rows) == len(kadid) + len(tid)
    assert (tmp_path / "kadid" / "table.csv").is_file() and (tmp_path / "tid2013" / "table.csv").is_file()
    assert all(0 <= r.mos <= 1 for r in rows) and max(r.mos for r in kadid) == 1.0  # references: the top
    assert max(r.mos for r in tid) == pytest.approx(6.4827 / 9, abs=0.01)  # contrast increase, level 2
    scenes = [r.scene.split("/")[0] for r in rows]
    assert all(scenes[i] == scenes[j] for i, j in dense_pairs(rows).tolist())
    with pytest.raises(ValueError, match=r"set data.mos_range: \[0, 1\] \(got None\)"):
        parse_config({"name": "both", "architecture": "rqi_cnn", "data": {**data, "mos_range": None}})
    with pytest.raises(ValueError, match=r"data.synthetic must name one or more distinct sets of kadid, tid2013"):
        parse_config({"name": "x", "architecture": "rqi_cnn", "data": {"synthetic": "live"}})


@pytest.mark.parametrize("recipe", ["rqi", "traditional"])
def test_two_epoch_run_lowers_val_loss_and_exports(tmp_path, recipe):
    table = tiny_dataset(tmp_path)
    config = parse_config(
        {
            "name": f"tiny-{recipe}",
            "architecture": "rqi_cnn",
            "network": {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0},
            "recipe": recipe,
            "seed": 1,
            "data": {
                "table": str(table),
                "group_column": "group",
                "reference_column": "reference",
                "val_fraction": 0.34,
            },
            "optim": {"epochs": 2, "pairs_per_epoch": 256, "batch_size": 16, "lr": 0.003, "warmup_steps": 4},
        }
    )
    state = torch.get_rng_state()
    summary = train(config, tmp_path / "out", progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    history = summary["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    assert min(h["val_loss"] for h in history[1:]) < history[0]["val_loss"]
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "README.md",
        "history.json",
        "training_curves.png",
    }
    assert json.loads((out / "history.json").read_text())["best"]["epoch"] == summary["best"]["epoch"]
    network = create_network(Path(out))
    assert network.config["width"] == 4
    card = (out / "README.md").read_text()
    assert f"{summary['best']['image_srcc']:.4f}" in card and "held-out" in card


def test_members_train_as_seeded_single_runs_and_export_their_mean(tmp_path):
    """members: 2 trains seeds 1 and 2 on seed 1's split: each member's weights are those of a single run with
    that seed (and split_seed 1); the exported ensemble scores the mean of the two and its card lists both.
    With member_seeds and member_networks, members share a seed and differ in config, each again a single run."""
    table = tiny_dataset(tmp_path)

    def config(name, **top):
        return parse_config(
            {
                "name": name,
                "architecture": "rqi_cnn",
                "network": {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0},
                "data": {
                    "table": str(table),
                    "group_column": "group",
                    "reference_column": "reference",
                    "val_fraction": 0.34,
                    "split_seed": 1,
                },
                "optim": {"epochs": 1, "pairs_per_epoch": 64, "batch_size": 16, "lr": 0.01, "warmup_steps": 1},
                **top,
            }
        )

    state = torch.get_rng_state()
    summary = train(config("pair", seed=1, members=2), tmp_path / "pair", progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    ensemble = create_network(tmp_path / "pair").eval()
    assert ensemble.architecture == "rqi_ensemble" and ensemble.config["members"] == 2
    singles = []
    for seed in (1, 2):
        train(config(f"seed{seed}", seed=seed), tmp_path / f"seed{seed}", progress=False)
        singles.append(create_network(tmp_path / f"seed{seed}").eval())
    for member, single in zip(ensemble.members, singles):
        assert all(torch.equal(member.state_dict()[k], v) for k, v in single.state_dict().items())
    assert not torch.equal(singles[0].head[-1].weight, singles[1].head[-1].weight)
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ensemble(a, b), (singles[0](a, b) + singles[1](a, b)) / 2)
    assert [m["seed"] for m in summary["members"]] == [1, 2] and "epoch" not in summary["best"]
    card = (tmp_path / "pair" / "README.md").read_text()
    assert "mean score of 2 `rqi_cnn` networks" in card and f"{summary['best']['image_srcc']:.4f}" in card
    assert f"{summary['members'][1]['best']['image_srcc']:.4f}" in card
    with pytest.raises(ValueError, match="members must be a positive network count"):
        config("bad", members=0)

    # members may share a seed and differ in config: each is still the single run of its seed and config
    tiny = {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0}
    mixed = config("mixed", seed=1, members=2, member_seeds=[1, 1], member_networks=[{}, {"spectrum_channels": 1}])
    summary = train(mixed, tmp_path / "mixed", progress=False)
    ensemble = create_network(tmp_path / "mixed").eval()
    assert ensemble.config["member_configs"] == [{}, {"spectrum_channels": 1}]
    train(config("spectrum", seed=1, network={**tiny, "spectrum_channels": 1}), tmp_path / "spectrum", progress=False)
    for member, single in zip(ensemble.members, [singles[0], create_network(tmp_path / "spectrum")]):
        assert all(torch.equal(member.state_dict()[k], v) for k, v in single.state_dict().items())
    assert "seed 1, spectrum_channels=1" in (tmp_path / "mixed" / "README.md").read_text()
    assert [m["network_changes"] for m in summary["members"]] == [{}, {"spectrum_channels": 1}]
    with pytest.raises(
        ValueError, match=r"member_seeds must list one entry per member \(members: 2, at least 2\); got \[1\]"
    ):
        config("bad", members=2, member_seeds=[1])
    with pytest.raises(
        ValueError, match=r"config key member_networks: expected a list of mappings or null; got \[\{\}, 'wide'\]"
    ):
        config("bad", members=2, member_networks=[{}, "wide"])


def test_ema_weights_are_validated_and_exported_and_threads_restored(tmp_path):
    """torch's moving average starts at the weights after the first step; with a decay this close to 1 it
    stays there, so a 4-step EMA run must export what a 1-step plain run exports (same seed, data order and
    first learning rate), although its trained weights moved 3 steps further."""
    table = tiny_dataset(tmp_path)

    def run(name, pairs, **optim):
        config = parse_config(
            {
                "name": name,
                "architecture": "rqi_cnn",
                "network": {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0},
                "seed": 3,
                "data": {
                    "table": str(table),
                    "group_column": "group",
                    "reference_column": "reference",
                    "val_fraction": 0.34,
                },
                "optim": {
                    "epochs": 1,
                    "pairs_per_epoch": pairs,
                    "batch_size": 16,
                    "lr": 0.01,
                    "warmup_steps": 1,
                    **optim,
                },
            }
        )
        summary = train(config, tmp_path / name, progress=False)
        return summary, create_network(tmp_path / name).state_dict()

    threads = torch.get_num_threads()
    one_step, one_step_weights = run("plain", 16)
    assert one_step["best"]["epoch"] == 1  # else both runs would export the initialisation
    _, ema_weights = run("ema", 64, ema_decay=0.999999, threads=1)
    assert torch.get_num_threads() == threads
    _, four_step_weights = run("plain4", 64)

    def gap(a, b):
        return max((a[k] - b[k]).abs().max().item() for k in a)

    assert gap(ema_weights, one_step_weights) < 1e-4 < 1e-3 < gap(four_step_weights, one_step_weights)
    assert "moving average (EMA decay 0.999999)" in (tmp_path / "ema" / "README.md").read_text()
    for bad in ({"ema_decay": 1.0}, {"threads": 0}):
        with pytest.raises(ValueError, match=f"optim.{next(iter(bad))}"):
            parse_config({"name": "a", "architecture": "rqi_cnn", "data": {"table": "t"}, "optim": bad})


@pytest.mark.parametrize("architecture", ["rqi_cnn", "maniqa_rqi"])
def test_predict_pairs_matches_the_network_on_each_pair(tmp_path, architecture):
    """Features extracted once per image and chunk, then compared, give what net(a, b) gives pair by pair, in
    the order of the pairs (chunks of at most 8 images and batches of 4 here, so both boundaries are crossed)."""
    from rqi_loss.training.dataset import ImageCache, PairDataset
    from rqi_loss.training.evaluation import predict_pairs

    from tiny_models import make_tiny_network

    rows = read_csv_table(tiny_dataset(tmp_path), group_column="group", reference_column="reference")
    if architecture == "maniqa_rqi":
        network = make_tiny_network(seed=1)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            network = build_network("rqi_cnn", {"input_size": 32, "levels": 2, "width": 4, "hidden": 16})
    pairs = dense_pairs(rows)[torch.randperm(len(dense_pairs(rows)), generator=torch.Generator().manual_seed(0))[:50]]
    cache = ImageCache()
    network.train()
    predicted = predict_pairs(network, rows, pairs, cache=cache, device=torch.device("cpu"), batch_size=4)
    assert network.training
    network.eval()
    dataset = PairDataset([r.image for r in rows], pairs, torch.zeros(len(pairs)), 32, train=False, cache=cache)
    with torch.no_grad():
        expected = torch.stack([network(a[None], b[None])[0] for a, b, _ in dataset]).numpy()
    assert predicted.shape == (50,) and expected.std() > 1e-3
    np.testing.assert_allclose(predicted, expected, atol=1e-5, rtol=0)


def test_pairs_of_differently_sized_images_are_refused(tmp_path):
    """Crops of two images of different sizes would not be aligned: training items and validation both say so."""
    from rqi_loss.training.dataset import ImageCache, PairDataset
    from rqi_loss.training.evaluation import predict_pairs

    for name, size in (("a.png", 40), ("b.png", 48)):
        Image.fromarray(np.zeros((size, size, 3), dtype=np.uint8)).save(tmp_path / name)
    rows = [ImageRow("s", tmp_path / n, 3.0, "g", None) for n in ("a.png", "b.png")]
    pairs = torch.tensor([[0, 1]])
    network = build_network("rqi_cnn", {"input_size": 32, "levels": 2, "width": 4, "hidden": 16})
    with pytest.raises(
        ValueError, match=r"paired images differ in size: .*a\.png \(3, 40, 40\) vs .*b\.png \(3, 48, 48\)"
    ):
        predict_pairs(network, rows, pairs, cache=ImageCache(), device=torch.device("cpu"))
    dataset = PairDataset([r.image for r in rows], pairs, torch.zeros(1), 32, train=True, cache=ImageCache())
    with pytest.raises(ValueError, match="paired images differ in size"):
        dataset[0]


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")  # the spy below
def test_accumulated_steps_match_one_large_batch(tmp_path):
    """optim.accumulate: 2 passes of 8 pairs per optimiser step hand the optimiser the gradient of 1 pass of the
    same 16 pairs (up to float summation order), and rqi-train runs with it."""
    from rqi_loss.training.fit import make_learner, train_epoch

    table = tiny_dataset(tmp_path)
    config = parse_config(tiny_config_values(table, "acc", accumulate=2))
    torch.manual_seed(0)
    batch = (torch.rand(16, 3, 32, 32).double(), torch.rand(16, 3, 32, 32).double(), torch.rand(16) * 2 - 1)
    seen = {}
    for name, accumulate, batches in (
        ("large", 1, [batch]),
        ("accumulated", 2, [tuple(t[:8] for t in batch), tuple(t[8:] for t in batch)]),
    ):
        torch.manual_seed(1)
        learner = make_learner(config, {**config.network, "dropout": 0.0}, None, torch.device("cpu"), 10)
        learner.network.double()  # float64: batch-size dependent kernel rounding stays far below the tolerance
        learner.optimizer.step = lambda name=name, learner=learner: seen.setdefault(
            name, [p.grad.clone() for p in learner.network.parameters()]
        )
        train_epoch(learner, batches, dataclasses.replace(config.optim, accumulate=accumulate), torch.device("cpu"))
    for large, accumulated in zip(seen["large"], seen["accumulated"]):
        torch.testing.assert_close(accumulated, large, rtol=1e-9, atol=1e-12)
    summary = train(config, tmp_path / "run", progress=False)
    assert math.isfinite(summary["best"]["val_loss"]) and summary["config"]["optim"]["accumulate"] == 2
    with pytest.raises(ValueError, match="optim.accumulate must be a positive count"):
        parse_config(tiny_config_values(table, "x", accumulate=0))
