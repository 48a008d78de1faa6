"""``python -m osgan train``: arguments mirror TrainConfig; bad values exit 2 with one line."""

import argparse
import dataclasses

import pytest
from fixtures_data import write_fashion_mnist

from osgan import cli, data, training
from osgan.settings import EvalConfig
from osgan.training import TrainConfig


@pytest.fixture(autouse=True)
def _only_train(monkeypatch):
    # the train command alone: other commands' modules are not this file's business
    monkeypatch.setattr(cli, "COMMANDS", {"train": cli.COMMANDS["train"]})
    monkeypatch.setenv(data.OFFLINE_ENV, "1")


@pytest.fixture
def root(tmp_path):
    write_fashion_mnist(tmp_path / "fmnist", n_train=32, n_test=8)
    return str(tmp_path / "fmnist")


TINY = ["--profile", "smoke", "--width", "4", "--nz", "8", "--batch-size", "4", "--steps", "3",
        "--no-progress", "--device", "cpu"]


def test_help_lists_every_field_with_its_default():
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    training.configure_parser(parser)
    text = " ".join(parser.format_help().split())  # undo line wrapping
    for f in dataclasses.fields(TrainConfig):
        if f.name == "eval":  # the nested evaluation config: --eval-every, --eval-n-gen, ...
            for g in dataclasses.fields(EvalConfig):
                assert "--eval-" + g.name.replace("_", "-") in text, g.name
                assert f"{g.metadata['help']} " in text and f"(default: {g.default})" in text
            continue
        flag = "--" + f.name.replace("_", "-")
        assert flag in text, flag
        assert f"(default: {f.default})" in text, f.name
        assert f.metadata["help"].split()[0] in text, f.name
    assert "--profile" in text and "quick: 2000" in text


def test_run_from_the_command_line(root, tmp_path, capsys):
    out = tmp_path / "run"
    rc = cli.main(["train", *TINY, "--gan", "lsgan", "--stages", "two", "--data-root", root,
                   "--out-dir", str(out)])
    assert rc == 0
    assert (out / "done.json").exists()
    cfg = training.load_generator(out)[1]
    # explicit options override the profile; the rest comes from the smoke profile
    assert (cfg.gan, cfg.stages, cfg.steps, cfg.batch_size) == ("lsgan", "two", 3, 4)
    assert cfg.log_every == TrainConfig.for_profile("smoke").log_every
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize("args,says", [
    (["--gan", "biggan"], "unknown gan 'biggan'"),
    (["--stages", "both"], "stages must be"),
    (["--dataset", "mnist"], "unknown dataset"),
    (["--image-size", "48"], "image_size must be 32 or 64"),
    (["--batch-size", "0"], "batch_size must be a positive"),
    (["--steps", "-5"], "steps must be a positive"),
])
def test_bad_values_exit_2_with_one_line(root, tmp_path, capsys, args, says):
    out = tmp_path / "run"
    rc = cli.main(["train", *TINY, "--data-root", root, "--out-dir", str(out), *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and says in err
    assert not out.exists()


def test_missing_data_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data, "SYSTEM_DIRS", (str(tmp_path / "none"),))
    out = tmp_path / "run"
    rc = cli.main(["train", *TINY, "--data-root", str(tmp_path / "empty"), "--out-dir", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "dataset-fashion-mnist" in err
    assert not out.exists()


def test_unreadable_checkpoint_exit_2(root, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", *TINY, "--data-root", root, "--out-dir", str(out)]) == 0
    (out / "checkpoint.pt").write_bytes(b"\x00garbage")
    rows = (out / "metrics.jsonl").read_text()
    capsys.readouterr()
    rc = cli.main(["train", *TINY, "--steps", "5", "--data-root", root, "--out-dir", str(out),
                   "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "cannot read checkpoint" in err and "delete it" in err
    # the failed resume wrote nothing: the 3-step run's rows are untouched
    assert (out / "metrics.jsonl").read_text() == rows
