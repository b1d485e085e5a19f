"""Two CPU processes with torchrun's environment variables (gloo, 127.0.0.1) train like one
process with the same global batch."""

import numpy as np
import torch

from seqlab import load_model
from tests.api import ddp_worker
from tests.ddp_helpers import run_two_processes


def test_two_processes_equal_one_process_with_the_global_batch(tmp_path):
    # one process, global batch 2 x 8 (run first: the forked children then inherit torch's
    # lazily imported optimizer machinery instead of each importing it)
    x, y = ddp_worker.data()
    m = ddp_worker.model()
    h = m.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, device="cpu", validation_data=(x[:20], y[:20]))
    single = torch.cat([p.detach().flatten() for p in m.parameters()]).numpy()
    # forked children start at once (torch already imported); each sets torchrun's variables
    outs = run_two_processes(tmp_path, lambda rank: ddp_worker.train(str(tmp_path)))
    # only rank 0 prints and writes files
    assert outs[0].count("Epoch ") == 2 and outs[1] == ""
    assert sorted(f.name for f in tmp_path.glob("*.safetensors")) == ["ck-1.safetensors", "ck-2.safetensors",
                                                                      "final.safetensors"]
    w0, w1 = np.load(tmp_path / "weights-0.npy"), np.load(tmp_path / "weights-1.npy")
    np.testing.assert_array_equal(w0, w1)

    np.testing.assert_allclose(w0, single, rtol=1e-5, atol=1e-6)
    hist = np.load(tmp_path / "history-0.npy")
    np.testing.assert_allclose(hist[0], h.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(hist[1], h.history["val_loss"], rtol=1e-5)  # validation summed over ranks
    loaded = load_model(tmp_path / "final.safetensors")
    np.testing.assert_allclose(loaded.predict(x), m.predict(x), rtol=1e-5, atol=1e-6)
