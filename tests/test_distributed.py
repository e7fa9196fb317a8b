"""Data-parallel training: 2 CPU processes (gloo on 127.0.0.1) against one process; NCCL where GPUs are."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

import aekit
from aekit.data import load_digits
from aekit.nn import Autoencoder
from aekit.train import _rank_order, distributed, fit, fit_classifier, seed_everything

SRC = Path(aekit.__file__).resolve().parents[1]
FIT = dict(
    epochs=4, batch_size=50, lr=3e-3, seed=0, progress=False, device="cpu"
)  # CPU ranks even beside a GPU


def _data():
    X, y = load_digits()
    return X[:1000], y[:1000], X[1000:1200], y[1000:1200]


def _models():
    seed_everything(1)
    ae = Autoencoder(64, [32], loss="mse")
    clf = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    return ae, clf


def _train(ae, clf, out: Path, **kw):
    X, y, Xv, yv = _data()
    h_ae = fit(ae, X, X_val=Xv, checkpoint_dir=out / "ae", **FIT, **kw)
    h_clf = fit_classifier(clf, X, y, X_val=Xv, y_val=yv, **FIT, **kw)
    return h_ae, h_clf


class _ConvNet(torch.nn.Module):
    """A user's conv autoencoder: fit trains it channels-last on the CPU, under DDP too."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, stride=2, padding=1),
            torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1),
        )

    def loss(self, x):
        return 0.5 * (self.net(x) - x).pow(2).flatten(1).sum(1).mean()


def _conv_net():
    seed_everything(3)
    return _ConvNet()


def _train_conv(model):
    return fit(model, _data()[0].reshape(-1, 1, 8, 8), **FIT)


def _denoiser():
    seed_everything(2)
    return Autoencoder(64, [32], loss="mse", corruption="masking:0.3")  # each rank draws its own noise


def _train_loader(ae):
    X = torch.from_numpy(_data()[0])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=50, shuffle=True)
    return fit(ae, loader, **FIT)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        GLOO_SOCKET_IFNAME="lo",
    )
    torch.set_num_threads(1)
    out = Path(out)
    ae, clf = _models()
    h_ae, h_clf = _train(ae, clf, out / f"rank{rank}")  # distributed=None: joins because RANK etc. are set
    assert distributed.world_size() == world
    loader_ae = _models()[0]
    h_loader = _train_loader(loader_ae)  # a DataLoader is re-sharded (DistributedSampler)
    conv = _conv_net()
    h_conv = _train_conv(conv)
    assert all(p.is_contiguous() for p in conv.parameters())
    straight, resumed = _denoiser(), _denoiser()  # 4 epochs in one go / 2 + 2 resumed
    X = _data()[0]
    fit(straight, X, **FIT)
    fit(resumed, X, **{**FIT, "epochs": 2}, checkpoint_dir=out / "resume")  # rank 0 writes, all ranks read
    fit(resumed, X, **FIT, checkpoint_dir=out / "resume", resume_from=out / "resume")
    save_file(
        {
            **{f"ae.{k}": v for k, v in ae.state_dict().items()},
            **{f"clf.{k}": v for k, v in clf.state_dict().items()},
            **{f"loader.{k}": v for k, v in loader_ae.state_dict().items()},
            **{f"conv.{k}": v for k, v in conv.state_dict().items()},
            **{f"straight.{k}": v for k, v in straight.state_dict().items()},
            **{f"resumed.{k}": v for k, v in resumed.state_dict().items()},
        },
        out / f"weights{rank}.safetensors",
    )
    (out / f"history{rank}.json").write_text(
        json.dumps({"ae": h_ae, "clf": h_clf, "loader": h_loader, "conv": h_conv})
    )


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, free_port):
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(2, free_port(), str(out)), nprocs=2, join=True, start_method="spawn")
    weights = [load_file(out / f"weights{r}.safetensors") for r in range(2)]
    histories = [json.loads((out / f"history{r}.json").read_text()) for r in range(2)]
    return out, weights, histories


@pytest.mark.slow
def test_ranks_end_with_identical_weights_and_history(two_ranks):
    _, (w0, w1), (h0, h1) = two_ranks
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    assert h0["ae"]["train_loss"] == h1["ae"]["train_loss"]
    assert h0["loader"]["train_loss"] == h1["loader"]["train_loss"]
    assert h0["clf"]["val_error"] == h1["clf"]["val_error"]


@pytest.mark.slow
def test_loss_falls(two_ranks):
    _, _, (h0, _) = two_ranks
    for name in ("ae", "clf", "loader", "conv"):
        assert h0[name]["train_loss"][-1] < 0.7 * h0[name]["train_loss"][0], name
    assert h0["clf"]["val_error"][-1] < 0.2


@pytest.mark.slow
def test_gradients_are_averaged_like_one_process(two_ranks, tmp_path):
    # batch_size is the global batch: 2 ranks x 25 samples follow the 1-process run with batches of 50.
    # Without the all-reduce each rank would follow its own half of the data and end elsewhere.
    _, (w0, _), (h0, _) = two_ranks
    torch.set_num_threads(1)
    ae, clf = _models()
    h_ae, h_clf = _train(ae, clf, tmp_path, distributed=False)
    for k, v in ae.state_dict().items():
        torch.testing.assert_close(w0[f"ae.{k}"], v, atol=2e-5, rtol=1e-4)
    for k, v in clf.state_dict().items():
        torch.testing.assert_close(w0[f"clf.{k}"], v, atol=2e-5, rtol=1e-4)
    conv = _conv_net()  # channels-last weights: the same averaging
    h_conv = _train_conv(conv)
    for k, v in conv.state_dict().items():
        torch.testing.assert_close(w0[f"conv.{k}"], v, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(h0["conv"]["train_loss"], h_conv["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(h0["ae"]["val_loss"], h_ae["val_loss"], rtol=1e-4)
    np.testing.assert_allclose(h0["clf"]["val_error"], h_clf["val_error"], atol=1e-9)


@pytest.mark.slow
def test_only_rank_zero_writes_checkpoints(two_ranks):
    out, _, _ = two_ranks
    assert (out / "rank0" / "ae" / "model.safetensors").is_file()
    assert not (out / "rank1").exists()
    loaded = aekit.load(out / "rank0" / "ae")
    assert len(loaded.history["epoch"]) == FIT["epochs"]


@pytest.mark.slow
def test_resume_is_exact_with_two_ranks(two_ranks):
    # 2 epochs, then 2 more resumed from rank 0's checkpoint (which holds both ranks' noise generators)
    # = 4 epochs in one go, bit for bit, on each rank
    _, weights, _ = two_ranks
    for w in weights:
        straight = {k[len("straight.") :]: v for k, v in w.items() if k.startswith("straight.")}
        assert straight
        for k, v in straight.items():
            assert torch.equal(w[f"resumed.{k}"], v), k


@pytest.mark.parametrize("n,per_rank,world", [(10, 2, 2), (11, 3, 2), (7, 4, 3), (2, 1, 3), (100, 13, 4)])
def test_rank_order_splits_every_global_batch(n, per_rank, world):
    order = torch.randperm(n)
    parts = [_rank_order(order, per_rank, r, world) for r in range(world)]
    assert len({len(p) for p in parts}) == 1  # same number of samples, so of batches
    assert set(torch.cat(parts).tolist()) == set(range(n))  # every sample seen (a few twice: padding)
    step = per_rank * world
    padded = -(-n // world) * world
    glued = []
    for i in range(0, len(parts[0]), per_rank):  # rank slices of batch i, glued, = global batch i
        glued += torch.cat([p[i : i + per_rank] for p in parts]).tolist()
    assert glued == order.repeat(3)[:padded].tolist()
    assert len(parts[0]) == sum(len(range(s, min(s + step, padded))) // world for s in range(0, padded, step))


def test_distributed_true_without_launcher_is_a_clear_error(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    X = load_digits()[0][:20]
    with pytest.raises(RuntimeError, match="torchrun"):
        fit(Autoencoder(64, [8]), X, epochs=1, distributed=True, progress=False)
    with pytest.raises(TypeError, match="distributed"):
        fit(Autoencoder(64, [8]), X, epochs=1, distributed="yes", progress=False)


def _torchrun(tmp_path, *launcher: str, **env):
    """(command, environment) of `torchrun LAUNCHER... -m aekit train` on 300 digits, output in tmp_path/run."""
    np.save(tmp_path / "x.npy", load_digits()[0][:300])
    env = dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", **env)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *launcher,
        "-m",
        "aekit",
        "-q",
        "train",
        "--data",
        str(tmp_path / "x.npy"),
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    return cmd, env


def _torchrun_train(tmp_path, port: int, nproc: int, **env):
    cmd, env = _torchrun(
        tmp_path,
        "--nnodes",
        "1",
        "--nproc-per-node",
        str(nproc),
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(port),
        **env,
    )
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)


def _check_run(done, run: Path):
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("trained") == 1  # rank 0 alone reports
    report = json.loads((run / "metrics.json").read_text())
    assert report["epochs"] == 2
    assert aekit.load(run).history["epoch"] == [1, 2]


@pytest.mark.slow
def test_torchrun_cli(tmp_path, free_port):
    _check_run(
        _torchrun_train(tmp_path, free_port(), 2, CUDA_VISIBLE_DEVICES=""), tmp_path / "run"
    )  # gloo, CPU ranks


@pytest.mark.slow
def test_torchrun_two_nodes_meet_at_a_rendezvous(tmp_path, free_port):
    # two "nodes" (two torchrun launchers, one process each) on this machine, joined by a c10d
    # rendezvous as in the README's multi-machine command; the second node's process is global rank 1
    rendezvous = (
        "--nnodes",
        "2",
        "--nproc-per-node",
        "1",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"127.0.0.1:{free_port()}",
        "--rdzv-id",
        "aekit-test",
    )
    cmd, env = _torchrun(tmp_path, *rendezvous, CUDA_VISIBLE_DEVICES="")
    nodes = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        outs = [p.communicate(timeout=240) for p in nodes]
    finally:  # a node left waiting at the rendezvous must not outlive the test
        for p in nodes:
            p.kill()
    for p, (_, err) in zip(nodes, outs):
        assert p.returncode == 0, err[-2000:]
    done = subprocess.CompletedProcess(cmd, 0, "".join(o for o, _ in outs), "".join(e for _, e in outs))
    _check_run(done, tmp_path / "run")  # one report, from the node that holds rank 0


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="NCCL needs CUDA GPUs")
def test_torchrun_cli_nccl(tmp_path, free_port):
    # one process per GPU (at most 2): the default device is cuda:LOCAL_RANK and the backend NCCL
    _check_run(_torchrun_train(tmp_path, free_port(), min(2, torch.cuda.device_count())), tmp_path / "run")


def test_more_processes_than_gpus_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(
        RuntimeError, match=r"LOCAL_RANK is 1 but this machine has 1 CUDA device.*--nproc-per-node 1"
    ):
        distributed.device()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.device() == torch.device("cuda", 0)
