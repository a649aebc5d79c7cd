"""Checkpoints: one safetensors file with JSON metadata; nothing else, and bad files refused."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from genlab.engine.training.checkpoint import (
    FORMAT,
    VERSION,
    flatten_state,
    load_checkpoint,
    read_meta,
    save_checkpoint,
    unflatten_state,
)


def tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"net.w": torch.randn(3, 4, generator=g), "net.b": torch.zeros(4),
            "half": torch.randn(5, generator=g).to(torch.bfloat16),
            "rng": torch.Generator().manual_seed(3).get_state(),  # uint8
            "count": torch.tensor(7), "ids": torch.arange(6).view(2, 3)[:, 1]}  # a strided view


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def test_round_trip(tmp_path):
    t = tensors()
    meta = {"kind": "test", "step": 3, "history": [1.5, 0.25], "cfg": {"a": [1, 2]}}
    path = save_checkpoint(tmp_path / "c.safetensors", t, meta)
    back, m = load_checkpoint(path, kind="test")
    assert set(back) == set(t)
    for k in t:
        assert back[k].dtype == t[k].dtype and torch.equal(back[k], t[k])
    assert {k: m[k] for k in meta} == meta
    assert m["format"] == FORMAT and m["version"] == VERSION
    assert read_meta(path)["step"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name != "c.safetensors"]  # no temp left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # the usual mode, not 0600


def test_the_file_is_safetensors_and_json_only(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", tensors(), {"kind": "test"})
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    assert 8 + n + end == len(raw)  # header + tensor bytes, nothing else
    assert json.loads(header["__metadata__"]["genlab"])["kind"] == "test"
    with safe_open(str(path), framework="numpy") as f:  # any safetensors reader opens it
        assert f.get_tensor("net.w").shape == (3, 4)


def test_adam_state_round_trips(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    skeleton, t = flatten_state(opt.state_dict(), "optim")
    json.dumps(skeleton)
    path = save_checkpoint(tmp_path / "o.safetensors", t, {"optim": skeleton})
    back, meta = load_checkpoint(path)
    state = unflatten_state(meta["optim"], back)
    opt2 = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    opt2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == 0.01
    assert opt2.param_groups[0]["betas"] == opt.param_groups[0]["betas"]  # a tuple again
    for k, s in opt.state_dict()["state"].items():
        for name, v in s.items():
            assert torch.equal(opt2.state_dict()["state"][k][name], v)
    with pytest.raises(ValueError, match="lacks tensor"):
        unflatten_state(meta["optim"], {})
    with pytest.raises(ValueError):
        flatten_state({"x": object()}, "p")


def test_metadata_that_is_not_json_is_refused_and_nothing_is_written(tmp_path):
    for meta in ({"x": float("nan")}, {"x": object()}):
        with pytest.raises(ValueError) as e:
            save_checkpoint(tmp_path / "c.safetensors", tensors(), meta)
        one_line(e)
    assert not list(tmp_path.iterdir())


def test_bad_files_give_one_line_value_errors(tmp_path):
    good = save_checkpoint(tmp_path / "good.safetensors", tensors(), {"kind": "test"})
    raw = good.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    files = {
        "text.safetensors": b"step = 3\nloss = 0.1\n",
        "empty.safetensors": b"",
        "random.safetensors": np.random.default_rng(0).bytes(400),
        "truncated.safetensors": raw[:-7],
        "header-only.safetensors": raw[:8 + n],
        "data-flipped.safetensors": raw[:-3] + bytes(b ^ 0x55 for b in raw[-3:]),
        "pickle.safetensors": b"\x80\x04\x95" + raw[3:],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    save_file({"w": torch.zeros(2)}, str(tmp_path / "badjson.safetensors"),
              metadata={"genlab": "{not json"})
    save_file({"w": torch.zeros(2)}, str(tmp_path / "otherformat.safetensors"),
              metadata={"genlab": json.dumps({"format": "x", "version": 1})})
    save_file({"w": torch.zeros(2)}, str(tmp_path / "future.safetensors"),
              metadata={"genlab": json.dumps({"format": FORMAT, "version": VERSION + 1})})
    names = [*files, "foreign.safetensors", "badjson.safetensors", "otherformat.safetensors",
             "future.safetensors", "missing.safetensors"]
    for name in names:
        with pytest.raises(ValueError) as e:
            load_checkpoint(tmp_path / name)
        assert name.split(".")[0] in one_line(e) or "no checkpoint" in str(e.value)
    (tmp_path / "folder.safetensors").mkdir()
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "folder.safetensors")
    with pytest.raises(ValueError) as e:
        load_checkpoint(good, kind="images")
    assert "'test'" in one_line(e)
