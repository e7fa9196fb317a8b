"""Write tests/codec/data/golden_v4.{aek,json}: a hyperprior photo stream of fixed small tables and integer h_s."""

import hashlib
import json
from pathlib import Path

import numpy as np

from aekit.codec.coder import Tables
from aekit.codec.hyper_message import HyperTables, encode_hyper, hyper_symbols
from aekit.codec.intnet import IntegerLayer, IntegerNet

DATA = Path("tests/codec/data")
rng = np.random.default_rng(4)
z_tables = Tables([-2, -1], [5, 3], [[4000, 12000, 30000, 15000, 4536], [20000, 40000, 5536, 0, 0]], 16)
y_tables = Tables(
    [-1, -2, -3],
    [3, 5, 7],
    [
        [8000, 49536, 8000, 0, 0, 0, 0],
        [3000, 12000, 35536, 12000, 3000, 0, 0],
        [1000, 4000, 12000, 31536, 12000, 4000, 1000],
    ],
    16,
)
layers = [
    IntegerLayer(rng.integers(-40, 40, (2, 2, 5, 5)), rng.integers(0, 64, 2), 3, True, True),
    IntegerLayer(rng.integers(-40, 40, (2, 2, 5, 5)), rng.integers(0, 64, 2), 6, True, True),
    IntegerLayer(rng.integers(-30, 30, (2, 2, 3, 3)), rng.integers(0, 2000, 2), 10, False, False),
]
net = IntegerNet(layers, 2, 2)
tables = HyperTables(z_tables, y_tables, net)
fingerprint = hashlib.sha256(b"aekit golden v4").digest()
H, W = 20, 35  # y: 2 x 3, z: 1 x 1
y = rng.normal(0, 1.5, (2, 2, 3)).astype(np.float32)
z = rng.normal(0, 1.2, (2, 1, 1)).astype(np.float32)
data = encode_hyper(y, z, tables, fingerprint, H, W, 3)
zs, j, ys = hyper_symbols(y, z, tables)
(DATA / "golden_v4.aek").write_bytes(data)
meta = {
    "fingerprint": fingerprint.hex(),
    "model_id": fingerprint[:2].hex(),
    "height": H,
    "width": W,
    "channels": 3,
    "z_tables": {
        "offsets": z_tables.offsets.tolist(),
        "lengths": z_tables.lengths.tolist(),
        "freqs": z_tables.freqs.tolist(),
    },
    "y_tables": {
        "offsets": y_tables.offsets.tolist(),
        "lengths": y_tables.lengths.tolist(),
        "freqs": y_tables.freqs.tolist(),
    },
    "precision": 16,
    "net": {k: v.tolist() for k, v in net.state().items()},
    "z_symbols": zs.tolist(),
    "indices": j.tolist(),
    "y_symbols": ys.tolist(),
}
(DATA / "golden_v4.json").write_text(json.dumps(meta) + "\n")
print(len(data), data.hex(), j.tolist(), zs.tolist(), ys.tolist())
