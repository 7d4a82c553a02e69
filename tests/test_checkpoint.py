"""distill_edu.checkpoint: exact round trips, atomic saves, safe loading and clear errors."""
import random
import numpy as np, pytest, torch
from distill_edu.checkpoint import save_checkpoint, load_checkpoint, rng_state, set_rng_state
from distill_edu.models import make_student

def tiny(seed=0, d=16): return make_student(50, seed=seed, n_embd=d, n_layer=1, n_head=2, n_positions=16)

def train(m, opt, n):
    for _ in range(n):
        x = torch.randint(0, 50, (2, 8)); m(x, labels=x).loss.backward(); opt.step(); opt.zero_grad()

def assert_same_opt_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        for name, v in sa["state"][k].items():
            w = sb["state"][k][name]
            assert torch.equal(v, w) if torch.is_tensor(v) else v == w

def test_round_trip_restores_exact_optimizer_state(tmp_path):
    m = tiny(); opt = torch.optim.AdamW(m.parameters(), lr=3e-3, weight_decay=0.1)
    train(m, opt, 3)
    path = save_checkpoint(tmp_path/"sub"/"ck.pt", m, opt, epoch=2, step=30, loss=3.25, history=[1.0, 2.0])
    m2 = tiny(seed=99); opt2 = torch.optim.AdamW(m2.parameters(), lr=1.0)
    st = load_checkpoint(path, m2, opt2)
    assert (st["epoch"], st["step"], st["loss"], st["history"]) == (2, 30, 3.25, [1.0, 2.0])
    assert st["config"]["n_embd"] == 16 and st["config"]["vocab_size"] == 50
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), m2.state_dict().values()))
    assert_same_opt_state(opt, opt2)
    assert opt2.param_groups[0]["lr"] == 3e-3

def test_resumed_run_equals_uninterrupted(tmp_path):
    m = tiny(); opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    train(m, opt, 2); save_checkpoint(tmp_path/"ck.pt", m, opt, step=2); train(m, opt, 3)
    m2 = tiny(seed=5); opt2 = torch.optim.AdamW(m2.parameters(), lr=1e-2)
    torch.manual_seed(1234)                          # disturb the RNG: restore_rng must undo it
    load_checkpoint(tmp_path/"ck.pt", m2, opt2, restore_rng=True); train(m2, opt2, 3)
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), m2.parameters()))

def test_rng_states_round_trip_weights_only(tmp_path):
    random.seed(1); np.random.seed(2); torch.manual_seed(3)
    s = rng_state()
    torch.save(s, tmp_path/"rng.pt")
    s2 = torch.load(tmp_path/"rng.pt", weights_only=True)
    want = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    set_rng_state(s2)
    assert (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()) == want

def test_crash_during_save_keeps_previous(tmp_path, monkeypatch):
    m = tiny(); opt = torch.optim.SGD(m.parameters(), lr=0.1)
    path = save_checkpoint(tmp_path/"ck.pt", m, opt, step=1)
    before = path.read_bytes()
    real_save = torch.save
    def dying_save(obj, f, *a, **k):
        f.write(b"half a checkpoint"); raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(torch, "save", dying_save)
    with torch.no_grad(): next(m.parameters()).add_(1)
    with pytest.raises(KeyboardInterrupt): save_checkpoint(path, m, opt, step=2)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]       # no temporary file left behind
    assert load_checkpoint(path, tiny())["step"] == 1

def test_errors(tmp_path):
    m = tiny(); opt = torch.optim.AdamW(m.parameters())
    with pytest.raises(FileNotFoundError, match="No checkpoint"): load_checkpoint(tmp_path/"none.pt", m)
    path = save_checkpoint(tmp_path/"ck.pt", m, opt)
    data = path.read_bytes()
    for cut in (10, len(data)//2, len(data) - 100):
        (tmp_path/"t.pt").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt"): load_checkpoint(tmp_path/"t.pt", m)
    (tmp_path/"junk.pt").write_bytes(b"\x00" * 5000)
    with pytest.raises(ValueError, match="truncated or corrupt"): load_checkpoint(tmp_path/"junk.pt", m)
    with pytest.raises(ValueError, match="does not belong"): load_checkpoint(path, tiny(d=32))
    with pytest.raises(ValueError, match="does not belong"): load_checkpoint(path, make_student(60, n_embd=16, n_layer=1, n_head=2, n_positions=16))
    torch.save({"model": {}}, tmp_path/"other.pt")
    with pytest.raises(ValueError, match="not a distill_edu checkpoint"): load_checkpoint(tmp_path/"other.pt", m)
    save_checkpoint(tmp_path/"noopt.pt", m)
    with pytest.raises(ValueError, match="without an optimizer"): load_checkpoint(tmp_path/"noopt.pt", m, opt)

def test_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self): return (print, ("this would have run",))
    torch.save({"format": "distill_edu-checkpoint-1", "model": {}, "x": Evil()}, tmp_path/"evil.pt")
    with pytest.raises(ValueError, match="weights_only"): load_checkpoint(tmp_path/"evil.pt", tiny())
