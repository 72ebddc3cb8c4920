"""rqi-train's inputs: config values type-checked (YAML's string numbers converted), command-line overrides,
the table and its images checked before the first step, and the console script's one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rqi_loss.training import cli as train_cli
from rqi_loss.training import load_config, parse_config
from rqi_loss.training.dataset import ImageCache
from rqi_loss.training.table_check import check_table_images
from rqi_loss.training.tables import TrainingDataError, read_csv_table

from tiny_training import tiny_config_values, tiny_dataset

RQI_TRAIN = Path(sys.executable).with_name("rqi-train")
BASE = {"name": "a", "architecture": "rqi_cnn", "data": {"table": "t.csv"}}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_yaml_number_strings_become_numbers(tmp_path):
    path = _write(
        tmp_path,
        "name: a\narchitecture: rqi_cnn\ndata: {table: t.csv}\noptim: {lr: 1e-3, epochs: '3', weight_decay: 1}\n",
    )
    assert yaml.safe_load(path.read_text())["optim"]["lr"] == "1e-3"  # what PyYAML gives
    optim = load_config(path).optim
    assert optim.lr == 1e-3 and isinstance(optim.lr, float)
    assert optim.epochs == 3 and isinstance(optim.epochs, int)
    assert optim.weight_decay == 1.0 and isinstance(optim.weight_decay, float)


@pytest.mark.parametrize(
    "section, values, message",
    [
        ("optim", {"lr": "fast"}, r"config key optim.lr: expected a number; got 'fast' \(str\)"),
        ("optim", {"epochs": 2.5}, r"config key optim.epochs: expected an integer; got 2.5 \(float\)"),
        ("optim", {"epochs": "2.5"}, r"config key optim.epochs: expected an integer; got '2.5' \(str\)"),
        ("optim", {"bf16": "yes"}, r"config key optim.bf16: expected true or false; got 'yes' \(str\)"),
        ("optim", {"batch_size": True}, r"config key optim.batch_size: expected an integer; got True \(bool\)"),
        (
            "data",
            {"mos_range": [1, "x"]},
            r"config key data.mos_range: expected a list of 2 values \(a number, a number\) or null",
        ),
        ("data", {"table": 5}, r"config key data.table: expected a string or null; got 5 \(int\)"),
        (None, {"seed": "0x"}, r"config key seed: expected an integer; got '0x' \(str\)"),
        (None, {"network": [1]}, r"config key network: expected a mapping; got \[1\] \(list\)"),
    ],
)
def test_wrong_types_name_key_value_and_type(section, values, message):
    config = {**BASE, "data": dict(BASE["data"])}
    if section:
        config[section] = {**config.get(section, {}), **values}
    else:
        config.update(values)
    with pytest.raises(ValueError, match=message):
        parse_config(config)


@pytest.mark.parametrize(
    "data, ignored",
    [
        ({"table": "t.csv", "reference_mos": 5}, "['reference_mos'] are not read with data.format: csv"),
        ({"table": "t.csv", "root": "/data"}, "['root'] are not read with data.format: csv"),
        ({"format": "pipal", "root": "/d", "table": "t.csv"}, "['table'] are not read with data.format: pipal"),
        ({"format": "kadid10k", "image_root": "/i"}, "['image_root'] are not read with data.format: kadid10k"),
        ({"format": "tid2013", "group_column": "g"}, "['group_column'] are not read with data.format: tid2013"),
        ({"format": "tid2013", "reference_column": "r"}, "['reference_column'] are not read with"),
        ({"format": "pieapp", "mos_range": [0, 1]}, "['mos_range'] are not read with data.format: pieapp"),
        ({"format": "iqa", "table": "t", "group_column": "g"}, "['group_column'] are not read with data.format: iqa"),
        ({"synthetic": "kadid", "table": "t.csv"}, "['table'] are not read with data.synthetic: kadid"),
        ({"table": "t.csv", "pieapp_split": "val"}, "['pieapp_split'] are not read with data.format: csv"),
        ({"table": "t.csv", "scenes_per_source": 2}, "['scenes_per_source'] are not read with data.format: csv"),
        ({"table": "t.csv", "split_by": "scene"}, r"unknown keys \['split_by'\] in data"),
    ],
)
def test_keys_the_source_never_reads_are_errors(data, ignored):
    """A data key that the configured source ignores is named, not silently dropped (null stays allowed: the
    committed recipes write reference_mos: null to show the key)."""
    with pytest.raises(ValueError, match=re.escape(ignored) if "unknown" not in ignored else ignored):
        parse_config({**BASE, "data": data})
    parse_config({**BASE, "data": {"format": "pipal", "root": "/d", "reference_mos": None}})


@pytest.mark.parametrize("key", ["epochs", "pairs_per_epoch", "batch_size", "val_pairs"])
def test_counts_must_be_positive(key):
    with pytest.raises(ValueError, match=f"optim.{key} must be a positive count; got 0"):
        parse_config({**BASE, "optim": {key: 0}})


def test_a_table_with_one_image_per_scene_is_a_one_line_error(tmp_path):
    """No scene holds two images, so the RQI recipe has no pair: rqi-train says so (exit 2), no ZeroDivisionError."""
    table = tiny_dataset(tmp_path)
    lines = table.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    table.write_text("\n".join([lines[0]] + [",".join([f"{r[0]}_{k}", *r[1:]]) for k, r in enumerate(rows)]) + "\n")
    config = _write(tmp_path, yaml.safe_dump(tiny_config_values(table, "one-per-scene", threads=1)))
    done = _run_cli(str(config), "--output", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 2, done.stderr[-2000:]
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("rqi-train: error: the held-out side of the split has no rqi pairs")
    assert "at least two rated images in one scene" in error and "every image its own scene" in error


def test_command_line_overrides(tmp_path):
    path = _write(tmp_path, yaml.safe_dump({**BASE, "optim": {"lr": 0.01}}))
    config = load_config(path, ["optim.lr=1e-4", "data.image_root=/x", "seed=7", "data.mos_range=[1, 5]"])
    assert config.optim.lr == 1e-4 and config.data.image_root == "/x" and config.seed == 7
    assert config.data.mos_range == (1.0, 5.0)
    with pytest.raises(ValueError, match=r"config key optim.epochs: expected an integer; got 'many'"):
        load_config(path, ["optim.epochs=many"])
    with pytest.raises(ValueError, match=r"unknown keys \['lrate'\] in optim"):
        load_config(path, ["optim.lrate=1"])
    with pytest.raises(ValueError, match=r"override 'optim.lr': expected key=value"):
        load_config(path, ["optim.lr"])


@pytest.mark.parametrize("order", ["before --output", "after --output"])
def test_overrides_are_read_on_either_side_of_output(tmp_path, capsys, order):
    """The config is read with the overrides wherever they stand (argparse's plain parse refused them after
    --output as 'unrecognized arguments'): an unknown key gets the config error that names it."""
    path = _write(tmp_path, yaml.safe_dump({**BASE, "optim": {"lr": 0.01}}))
    output = ["--output", str(tmp_path / "out")]
    overrides = ["seed=7", "optim.lrate=1"]
    argv = [str(path), *overrides, *output] if order == "before --output" else [str(path), *output, *overrides]
    assert train_cli.main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("rqi-train: error: config") and "unknown keys ['lrate'] in optim" in error
    assert not (tmp_path / "out").exists()


def test_table_cells_are_checked_with_file_and_line(tmp_path):
    (tmp_path / "t.csv").write_text("scene,image,mos\na,x.png,3.5\na,y.png,abc\n")
    with pytest.raises(TrainingDataError, match=r"t.csv', line 3: column 'mos' must be a number; got 'abc'"):
        read_csv_table(tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text("scene,image,mos\na,,3.5\n")
    with pytest.raises(TrainingDataError, match=r"line 2: column 'image' is empty"):
        read_csv_table(tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text("scene,image,mos\na,x.png,nan\n")
    with pytest.raises(TrainingDataError, match=r"line 2: column 'mos' must be a number; got 'nan'"):
        read_csv_table(tmp_path / "t.csv")


def test_images_are_checked_before_the_first_step(tmp_path):
    table = tiny_dataset(tmp_path)
    rows = read_csv_table(table, group_column="group", reference_column="reference")
    cache = ImageCache()
    check_table_images(rows, cache)  # a good table passes, and its images are now decoded in the cache
    assert len(cache._images) == 30
    (tmp_path / "s1_blur1.png").write_bytes(b"")  # empty
    (tmp_path / "s2_noise1.png").unlink()  # missing
    from PIL import Image

    Image.new("RGB", (40, 48)).save(tmp_path / "s3_blur2.png")  # another size than its scene
    with pytest.raises(TrainingDataError) as caught:
        check_table_images(rows, ImageCache())
    message = str(caught.value)
    assert "3 bad row(s)" in message
    assert "table.csv, line 8: cannot read training image" in message and "s1_blur1.png" in message
    assert "table.csv, line 15: image" in message and "s2_noise1.png' does not exist" in message
    assert (
        "table.csv, line 19: image" in message
        and "is 48x40 but" in message
        and "paired images must have one size" in message
    )


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RQI_TRAIN), *args], capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(not RQI_TRAIN.exists(), reason="the rqi-train console script is not installed beside python")
def test_console_script_trains_and_reports_bad_input_in_one_line(tmp_path):
    table = tiny_dataset(tmp_path)
    path = _write(tmp_path, yaml.safe_dump(tiny_config_values(table, "cli")))
    done = _run_cli(str(path), "optim.lr=1e-2", "--output", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pair_srcc" in json.loads(done.stdout)
    assert (tmp_path / "out" / "model.safetensors").is_file()

    bad = _run_cli(str(path), "optim.lr=fast", "--output", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith("rqi-train: error: config")
    assert "optim.lr: expected a number; got 'fast'" in bad.stderr

    (tmp_path / "s0_blur1.png").write_bytes(b"not a png")
    broken = _run_cli(str(path), "--output", str(tmp_path / "broken"))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "s0_blur1.png" in broken.stderr and "line 3" in broken.stderr
    assert not (tmp_path / "broken").exists()


def test_adversarial_block_is_parsed_and_checked():
    from rqi_loss.training.adversarial import AdversarialConfig

    config = parse_config({**BASE, "optim": {"adversarial": {"eps": "4e-3", "steps": 2}}})
    assert config.optim.adversarial == AdversarialConfig(eps=0.004, steps=2, weight=1.0, target="label")
    assert parse_config({**BASE, "optim": {"adversarial": {"target": "clean"}}}).optim.adversarial.target == "clean"
    with pytest.raises(ValueError, match=r"optim.adversarial.target must be 'label' or 'clean'; got 'mos'"):
        parse_config({**BASE, "optim": {"adversarial": {"target": "mos"}}})
    assert parse_config(BASE).optim.adversarial is None
    with pytest.raises(
        ValueError, match=r"config key optim.adversarial: expected a mapping with keys eps \(a number\), steps"
    ):
        parse_config({**BASE, "optim": {"adversarial": {"eps": 0.01, "budget": 2}}})
    with pytest.raises(ValueError, match=r"optim.adversarial.eps must lie in \(0, 0.1\]"):
        parse_config({**BASE, "optim": {"adversarial": {"eps": 0.0}}})


def test_gradient_norm_block_is_parsed_and_checked():
    from rqi_loss.training.gradient_norm import GradientNormConfig

    config = parse_config({**BASE, "optim": {"gradient_norm": {"weight": "1e-2", "relative": False}}})
    assert config.optim.gradient_norm == GradientNormConfig(weight=0.01, eps=2 / 255, relative=False)
    assert parse_config(BASE).optim.gradient_norm is None
    with pytest.raises(ValueError, match=r"optim.gradient_norm.weight must be > 0; got 0.0"):
        parse_config({**BASE, "optim": {"gradient_norm": {"weight": 0.0}}})
    with pytest.raises(ValueError, match=r"optim.gradient_norm.eps must lie in \(0, 0.1\]"):
        parse_config({**BASE, "optim": {"gradient_norm": {"eps": 1}}})


def test_gradient_norm_penalty_is_the_first_order_gain_and_relative_is_scale_free():
    """The penalty is eps * ||d f / d a||_1 averaged over the batch (checked against a finite difference along
    the gradient's sign); relative: divided by the spread of f, so a judge scaled by 10 pays the same."""
    import torch

    from rqi_loss.networks import build_network
    from rqi_loss.training.gradient_norm import GradientNormConfig, gradient_norm_penalty

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network("rqi_cnn", {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0})
    network = network.double().eval()
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 3, 32, 32, generator=g, dtype=torch.float64), torch.rand(3, 3, 32, 32, dtype=torch.float64)
    a.requires_grad_(True)
    absolute = GradientNormConfig(weight=1.0, eps=1e-4, relative=False)
    prediction = network(a, b)
    penalty = gradient_norm_penalty(prediction, a, absolute)
    (gradient,) = torch.autograd.grad(prediction.sum(), a, retain_graph=True)
    with torch.no_grad():
        moved = network(a + absolute.eps * gradient.sign(), b)
    # ReLU kinks crossed by the step make the finite difference differ by a fraction of a percent
    torch.testing.assert_close(penalty, (moved - prediction).mean().detach(), rtol=1e-2, atol=0)
    penalty.backward()  # double backward: the network's parameters get a gradient from the penalty
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters())
    relative = GradientNormConfig(weight=1.0, eps=1e-4, relative=True)
    scaled = [gradient_norm_penalty(factor * network(a, b), a, relative) for factor in (1.0, 10.0)]
    torch.testing.assert_close(scaled[0], scaled[1])


def test_gradient_alignment_block_is_parsed_and_checked():
    from rqi_loss.training.gradient_alignment import GradientAlignmentConfig

    config = parse_config({**BASE, "optim": {"gradient_alignment": {"weight": "2e-2"}}})
    assert config.optim.gradient_alignment == GradientAlignmentConfig(weight=0.02, margin=0.05)
    assert parse_config(BASE).optim.gradient_alignment is None
    with pytest.raises(ValueError, match=r"optim.gradient_alignment.weight must be > 0; got -1.0"):
        parse_config({**BASE, "optim": {"gradient_alignment": {"weight": -1.0}}})
    with pytest.raises(ValueError, match=r"optim.gradient_alignment.margin must lie in \[0, 1\)"):
        parse_config({**BASE, "optim": {"gradient_alignment": {"margin": 1.5}}})


def test_gradient_alignment_penalty_is_one_minus_the_cosine_towards_the_better_image():
    """0 where d f / d a points from a straight at b, 2 x weight where it points away; pairs whose label does not
    say b is better by more than the margin are left out, and none at all gives 0 (with a graph)."""
    import torch

    from rqi_loss.training.gradient_alignment import GradientAlignmentConfig, gradient_alignment_penalty

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 3, 8, 8, generator=g), torch.rand(3, 3, 8, 8, generator=g)
    config = GradientAlignmentConfig(weight=0.5, margin=0.05)
    better_b = torch.tensor([-0.5, -0.2, -0.3])
    torch.testing.assert_close(gradient_alignment_penalty(3.0 * (b - a), a, b, better_b, config), torch.tensor(0.0))
    torch.testing.assert_close(gradient_alignment_penalty(a - b, a, b, better_b, config), torch.tensor(1.0))
    mixed = torch.tensor([-0.5, 0.5, -0.01])  # only the first pair is aligned: b better by more than the margin
    gradient = torch.stack((b[0] - a[0], a[1] - b[1], a[2] - b[2]))
    torch.testing.assert_close(gradient_alignment_penalty(gradient, a, b, mixed, config), torch.tensor(0.0))
    leaf = (a - b).requires_grad_(True)
    none_chosen = gradient_alignment_penalty(leaf, a, b, torch.tensor([0.5, 0.0, -0.05]), config)
    assert none_chosen.item() == 0.0 and none_chosen.requires_grad


def test_gradient_alignment_trains_the_judge_to_ascend_towards_the_better_image():
    """A few steps on the penalty alone (double backward through rqi_cnn) raise the cosine between d f / d a and
    b - a on the pairs trained on."""
    import torch
    import torch.nn.functional as F

    from rqi_loss.networks import build_network
    from rqi_loss.training.gradient_alignment import GradientAlignmentConfig, gradient_alignment_penalty
    from rqi_loss.training.gradient_norm import input_gradient

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network("rqi_cnn", {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0})
    g = torch.Generator().manual_seed(2)
    b = torch.rand(4, 3, 32, 32, generator=g)
    a = (b + 0.1 * torch.randn(b.shape, generator=g)).clamp(0, 1)  # noisy a, clean b: b is the better image
    target = torch.full((4,), -0.5)
    config = GradientAlignmentConfig(weight=1.0)
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)

    def cosine() -> float:
        judged = a.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(network(judged, b).sum(), judged)
        return F.cosine_similarity(gradient.flatten(1), (b - a).flatten(1)).mean().item()

    before = cosine()
    for _ in range(30):
        judged = a.clone().requires_grad_(True)
        penalty = gradient_alignment_penalty(input_gradient(network(judged, b), judged), judged, b, target, config)
        optimizer.zero_grad()
        penalty.backward()
        optimizer.step()
    after = cosine()
    assert after > before + 0.1, (before, after)


def test_training_loss_adds_both_input_gradient_penalties_on_one_gradient():
    """optim.gradient_norm and optim.gradient_alignment together: the training loss is the Huber loss plus each
    penalty computed from the same input gradient, and it trains the network's parameters."""
    import torch
    import torch.nn.functional as F

    from rqi_loss.networks import build_network
    from rqi_loss.training.config import OptimConfig
    from rqi_loss.training.fit import Learner, training_loss
    from rqi_loss.training.gradient_alignment import GradientAlignmentConfig, gradient_alignment_penalty
    from rqi_loss.training.gradient_norm import GradientNormConfig, gradient_norm_penalty, input_gradient

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = build_network("rqi_cnn", {"input_size": 32, "levels": 2, "width": 4, "hidden": 16, "dropout": 0.0})
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)
    target = torch.tensor([-0.4, 0.3, -0.2, 0.0])
    norm, aligned = GradientNormConfig(weight=0.5), GradientAlignmentConfig(weight=0.7)
    optim = OptimConfig(gradient_norm=norm, gradient_alignment=aligned)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.0)
    learner = Learner(network, None, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0))
    loss = training_loss(learner, a.clone(), b, target, optim)
    judged = a.clone().requires_grad_(True)
    prediction = network(judged, b)
    gradient = input_gradient(prediction, judged)
    expected = (
        F.huber_loss(prediction, target, delta=optim.huber_delta)
        + gradient_norm_penalty(prediction, judged, norm, gradient)
        + gradient_alignment_penalty(gradient, judged, b, target, aligned)
    )
    torch.testing.assert_close(loss, expected)
    terms: dict[str, float] = {}
    torch.testing.assert_close(training_loss(learner, a.clone(), b, target, optim, terms), expected)
    assert list(terms) == ["huber", "gradient_norm", "gradient_alignment"]
    assert sum(terms.values()) == pytest.approx(expected.item(), rel=1e-6)
    assert terms["huber"] == pytest.approx(F.huber_loss(prediction, target, delta=optim.huber_delta).item())
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in network.parameters() if p.requires_grad)


def test_perturbed_pair_stays_within_eps_and_raises_the_loss():
    import torch
    import torch.nn.functional as F

    from rqi_loss.training.adversarial import AdversarialConfig, perturb_pair

    from tiny_models import make_tiny_network

    network = make_tiny_network()
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 3, 32, 32, generator=g)
    target = torch.zeros(4)
    huber = lambda p, t: F.huber_loss(p, t, delta=0.1)  # noqa: E731
    config = AdversarialConfig(eps=4 / 255, steps=3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        a_adv, b_adv = perturb_pair(network, a, b, target, huber, config)
    for clean, moved in ((a, a_adv), (b, b_adv)):
        assert (moved - clean).abs().max() <= config.eps + 1e-6 and moved.min() >= 0 and moved.max() <= 1
    assert not a_adv.requires_grad and all(p.grad is None for p in network.parameters())
    with torch.no_grad():
        assert huber(network(a_adv, b_adv), target) > huber(network(a, b), target)


def test_init_from_and_adversarial_training(tmp_path):
    """init_from starts a run from a network folder (with lr 0 the export is that network); an adversarial
    run trains on perturbed pairs and ends elsewhere than the clean run."""
    import torch

    from rqi_loss import create_network
    from rqi_loss.training import train

    table = tiny_dataset(tmp_path)

    def config(name, **optim):
        values = tiny_config_values(table, name, **optim)
        if name == "frozen":
            values["init_from"] = str(tmp_path / "clean")
        return parse_config(values)

    train(config("clean"), tmp_path / "clean", progress=False)
    train(config("frozen", lr=0.0), tmp_path / "frozen", progress=False)
    train(config("adversarial", adversarial={"eps": 0.01, "steps": 1}), tmp_path / "adversarial", progress=False)
    train(
        config("invariant", adversarial={"eps": 0.01, "steps": 1, "target": "clean"}),
        tmp_path / "invariant",
        progress=False,
    )
    names = ("clean", "frozen", "adversarial", "invariant")
    clean, frozen, adversarial, invariant = (create_network(tmp_path / n).state_dict() for n in names)
    assert all(torch.equal(clean[k], frozen[k]) for k in clean)
    assert any(not torch.equal(clean[k], adversarial[k]) for k in clean)
    assert any(not torch.equal(invariant[k], adversarial[k]) for k in clean)
    # the history keeps each term of a training loss that has more than one, their sum the training loss
    history = json.loads((tmp_path / "adversarial" / "history.json").read_text())["history"]
    for record in history[1:]:
        assert record["train_adversarial"] > 0 and record["train_huber"] > 0
        assert record["train_huber"] + record["train_adversarial"] == pytest.approx(record["train_loss"], rel=1e-5)
    assert "train_huber" not in json.loads((tmp_path / "clean" / "history.json").read_text())["history"][1]
