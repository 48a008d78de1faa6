"""osgan.sweeps: typed sweep specs that refuse a misspelt key or a bad value in one line, their
dict form (the record's sweep.json), and the command line's defaults, each shown once."""

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from osgan import cli, losses, sweep, sweeps
from osgan.sweeps import DFADSweep, TrainSweep
from osgan.util import UsageError

TRAIN = dict(gans=("dcgan", "geogan"), exact_for=("geogan",), seeds=(0, 1), profile="smoke")
DFAD = dict(schemes=("one", "two", "kd"), lr_s=(1e-3,), lr_g=(1e-3,), seeds=(0, 1),
            profile="smoke", rounds=dict(one=4, two=2, kd=4))
RECORDED = Path(__file__).resolve().parents[1] / "results"


def _one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("cls, base", [(TrainSweep, TRAIN), (DFADSweep, DFAD)])
def test_an_unknown_key_is_refused_in_one_line_naming_it_and_the_valid_keys(cls, base):
    with pytest.raises(UsageError) as e:
        cls(**base, seed=(3,))
    text = _one_line(e)
    assert "'seed'" in text and "valid keys: " in text
    assert all(f.name in text for f in dataclasses.fields(cls))
    # through the dict form and through dataclasses.replace alike
    with pytest.raises(UsageError, match="'profil'"):
        sweeps.from_dict({"kind": cls.kind, **base, "profil": "smoke"})
    with pytest.raises(UsageError, match="'stage'"):
        dataclasses.replace(cls(**base), stage=("two",))
    # a missing key, too
    with pytest.raises(UsageError, match="needs seeds") as e:
        cls(**{k: v for k, v in base.items() if k != "seeds"})
    _one_line(e)


BAD_VALUES = [
    (TrainSweep, dict(gans=("nogan",)), "unknown objective 'nogan'; choose among: dcgan, cgan"),
    (TrainSweep, dict(gans="dcgan"), "gans must be a list"),
    (TrainSweep, dict(gans=()), "at least one objective"),
    (TrainSweep, dict(stages=("three",)), "unknown scheme 'three'"),
    (TrainSweep, dict(exact_for=("bgan",)), "exact_for: unknown objective of gans 'bgan'"),
    (TrainSweep, dict(seeds=()), "seeds must hold at least one seed"),
    (TrainSweep, dict(seeds=(0, 0)), "holds a seed twice"),
    (TrainSweep, dict(seeds=(-1,)), r"seeds must be an integer in \[0, 2\*\*31\)"),
    (TrainSweep, dict(exact_seeds=(0, 5)), r"exact_seeds must be among seeds \(0, 1\); not: 5"),
    (TrainSweep, dict(exact_for=(), exact_seeds=(0,)), "exact_for names no objective"),
    (TrainSweep, dict(more_seeds={"dcgan": (1, 2)}), "repeats seeds of seeds: \\[1\\]"),
    (TrainSweep, dict(profile="huge"), "unknown profile 'huge'; choose one of: full"),
    (TrainSweep, dict(profile="auto"), "unknown profile 'auto'"),  # a record has one profile
    (TrainSweep, dict(plan="table9"), "unknown analysis plan 'table9'"),
    (TrainSweep, dict(train=["steps", 3]), "train must map setting names"),
    (TrainSweep, dict(variants={"": {}}), "non-empty string"),
    (DFADSweep, dict(schemes=("three",)), "unknown scheme 'three'; choose among: one, two, kd"),
    (DFADSweep, dict(lr_s=()), "lr_s must hold at least one rate"),
    (DFADSweep, dict(lr_g=(0.0,)), "lr_g must hold finite rates > 0"),
    (DFADSweep, dict(lr_g=()), "lr_g must hold at least one rate"),
    (DFADSweep, dict(g_every=(0,)), "g_every must hold integers >= 1"),
    (DFADSweep, dict(schemes=("two", "kd"), rounds=dict(two=2, kd=4), g_every=(1, 5)),
     "g_every applies to the scheme one"),
    (DFADSweep, dict(tune_seeds=(2,)), "tune_seeds must be among seeds"),
    (DFADSweep, dict(rounds=dict(one=4, two=2)), "rounds must give each of the schemes"),
    (DFADSweep, dict(rounds=dict(one=4, two=2, kd=4, kdd=4)), "rounds must give each"),
    (DFADSweep, dict(rounds=dict(one=4, two=0, kd=4)), "rounds\\['two'\\] must be a positive"),
    (DFADSweep, dict(extend=0), "extend must be an integer >= 1 or None"),
    (DFADSweep, dict(recipes=("dfad", "dfad")), "names a recipe twice"),
]


@pytest.mark.parametrize("cls, change, says", BAD_VALUES)
def test_a_bad_value_is_refused_in_one_line(cls, change, says):
    base = TRAIN if cls is TrainSweep else DFAD
    with pytest.raises(UsageError, match=says) as e:
        cls(**(base | change))
    _one_line(e)


def test_kind_comes_from_the_class_and_picks_it_in_the_dict_form():
    assert (TrainSweep.kind, DFADSweep.kind) == ("train", "dfad")
    assert isinstance(sweeps.from_dict(TRAIN), TrainSweep)  # no kind: training runs
    assert isinstance(sweeps.from_dict({"kind": "dfad", **DFAD}), DFADSweep)
    with pytest.raises(UsageError, match="unknown sweep kind 'gan'; choose one of: train, dfad"):
        sweeps.from_dict({"kind": "gan", **TRAIN})
    with pytest.raises(UsageError, match="unknown keys 'schemes', 'lr_s'"):  # dfad without kind
        sweeps.from_dict(DFAD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweeps.SWEEPS["table1"].seeds = (0,)


def test_every_registered_sweep_builds_and_so_does_its_first_cell(tmp_path):
    for name, spec in sweeps.SWEEPS.items():
        assert isinstance(spec, (TrainSweep, DFADSweep)), name
        assert sweep.sweep_spec(name) is spec  # checked against the configs, as it is
        assert sweep.kind(name) == spec.kind
        first = sweep.cells(name)[0]
        cfg = sweep.cell_config(name, first, tmp_path)
        assert cfg.seed == first.seed and cfg.out_dir == str(tmp_path / first.name)
        assert set(spec.to_dict()) <= {"kind"} | {f.name for f in dataclasses.fields(spec)}
    assert set(losses.names()) >= set(sweeps.SWEEPS["table1"].gans)


def test_the_dict_form_round_trips_through_json_and_holds_only_the_keys_a_spec_sets():
    for name, spec in sweeps.SWEEPS.items():
        as_json = json.loads(json.dumps(spec.to_dict()))
        assert sweeps.from_dict(as_json) == spec, name
        assert sweeps.as_spec(spec) is spec and sweeps.as_spec(as_json) == spec
    assert sweeps.SWEEPS["table1_why"].to_dict() == {
        "gans": ("fishergan",), "stages": ("two",), "seeds": (0, 1, 2, 3, 4),
        "profile": "reference", "variants": {"simultaneous": {"variant": "simultaneous"}}}
    # a key set to its default is not written: the marker is the same as without it
    spec = TrainSweep(**TRAIN)
    assert dataclasses.replace(spec, stages=("one", "two"), train={}).to_dict() == \
        spec.to_dict() == {k: v for k, v in TRAIN.items()}
    assert list(DFADSweep(**DFAD).to_dict())[0] == "kind"  # a dfad spec says so first
    # the dict form is a copy: changing it leaves the registry alone
    sweeps.SWEEPS["smoke"].to_dict()["train"]["eval"]["every"] = 99
    assert sweeps.SWEEPS["smoke"].train["eval"]["every"] == 6


@pytest.mark.parametrize("name", ["table1_why", "table2_why", "bgan_probe"])
def test_the_recorded_markers_hold_the_spec_as_it_is_now_and_are_not_rewritten(name, tmp_path):
    marker = RECORDED / name / "sweep.json"
    recorded = json.loads(marker.read_text())
    assert recorded == {"sweep": name,
                        "spec": json.loads(json.dumps(sweeps.SWEEPS[name].to_dict()))}
    (tmp_path / name).mkdir()
    shutil.copy(marker, tmp_path / name / "sweep.json")
    sweep.own_results(name, tmp_path / name)
    assert (tmp_path / name / "sweep.json").read_bytes() == marker.read_bytes()


def test_table1s_marker_is_written_with_the_spec_of_its_plan(tmp_path):
    spec = {"gans": ["dcgan", "cgan", "wgan", "dcgan_ns", "lsgan", "geogan", "relgan",
                     "fishergan", "bgan", "sngan"],
            "exact_for": ["geogan", "sngan"], "exact_seeds": [0, 1, 2],
            "seeds": [0, 1, 2, 3, 4, 5, 6, 7], "profile": "reference", "plan": "table1",
            "train": {"ema": 0.999}}
    (tmp_path / "table1").mkdir()
    shutil.copy(RECORDED / "table1" / "sweep.json", tmp_path / "table1" / "sweep.json")
    sweep.own_results("table1", tmp_path / "table1")
    assert json.loads((tmp_path / "table1" / "sweep.json").read_text()) == {"sweep": "table1",
                                                                            "spec": spec}


def test_a_dict_in_the_registry_is_built_and_checked_like_a_spec(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sweeps.SWEEPS, "probe", dict(TRAIN, train=dict(steps=3)))
    spec = sweep.sweep_spec("probe")
    assert spec == TrainSweep(**TRAIN, train=dict(steps=3))
    assert sweep.cell_config("probe", sweep.cells("probe")[0], tmp_path).steps == 3
    # a misspelt key, of the spec or of the settings it changes: one line naming the sweep
    for bad, says in ((dict(TRAIN, seed=(0,)), "sweep 'probe': unknown key 'seed'"),
                      (dict(TRAIN, train=dict(stpes=3)),
                       "sweep 'probe': train: unknown setting 'stpes' of TrainConfig"),
                      (dict(TRAIN, variants={"v": dict(eval=dict(evry=2))}),
                       "variants\\['v'\\].eval: unknown setting 'evry' of EvalConfig"),
                      ({"kind": "dfad", **DFAD, "recipes": ("sgd",)},
                       "recipes: unknown recipe 'sgd'; choose among: adam, dfad, dfad_mnist"),
                      ({"kind": "dfad", **DFAD, "dfad": dict(round=3)},
                       "dfad: unknown setting 'round' of DFADConfig")):
        monkeypatch.setitem(sweeps.SWEEPS, "probe", bad)
        with pytest.raises(UsageError, match=says):
            sweep.sweep_spec("probe")
        assert cli.main(["sweep", "probe", "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "sweep 'probe'" in err, err


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


@pytest.mark.parametrize("command", ["train", "dfad", "bench", "sweep", "fid"])
def test_help_shows_every_options_default_once(command):
    p = _subparsers()[command]
    options = [a for a in p._actions
               if a.option_strings and not isinstance(a, argparse._HelpAction)]
    formatter = p._get_formatter()
    for a in options:
        assert formatter._expand_help(a).count("(default:") == 1, (command, a.dest)
    text = " ".join(p.format_help().split())
    assert text.count("(default:") == len(options)
    assert "(default: 1) (default: 1)" not in text


def test_every_command_starts_from_the_same_profile():
    subs = _subparsers()
    assert subs["train"].parse_args([]).profile == "auto"
    assert subs["dfad"].parse_args([]).profile == "auto"
    # bench alone starts from its dataclass, the paper's one point, unless a profile is named
    from osgan import bench

    assert bench.config_from_args(subs["bench"].parse_args([])) == bench.BenchConfig()
    cfg = bench.config_from_args(subs["bench"].parse_args(["--profile", "smoke", "--nz", "7"]))
    assert (cfg.widths, cfg.nz) == (bench.BenchConfig.for_profile("smoke").widths, 7)


def test_bench_flags_come_from_its_fields_help():
    from osgan import bench

    p = _subparsers()["bench"]
    helps = {a.dest: p._get_formatter()._expand_help(a) for a in p._actions}
    for f in dataclasses.fields(bench.BenchConfig):
        assert helps[f.name].startswith(f.metadata["help"]), f.name
    text = " ".join(p.format_help().split())
    assert "(default: fused separate)" in text and "[full: 32 64 128, quick: 32" in text
    assert "--clock {wall,cpu}" in text
