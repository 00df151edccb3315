"""Behaviour of the HRM core: gradient path, memory, carry, ACT targets, losses, optimisers."""

import math

import pytest
import torch

from reasoner.act import ACTState, Batch, act_train_segment, run_segments
from reasoner.config import ModelConfig, cpu_tiny, paper_27m
from reasoner.losses import IGNORE_LABEL, act_loss, log_stablemax, q_continue_target
from reasoner.model import HRM, count_parameters
from reasoner.optim import EMA, AdamATan2, SignSGD, lr_factor
from reasoner.widen import widen


def tiny(**overrides) -> ModelConfig:
    return cpu_tiny(vocab_size=6, seq_len=16, **overrides)


def random_batch(cfg: ModelConfig, batch: int = 4, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(1, cfg.vocab_size, (batch, cfg.seq_len), generator=g)
    labels = torch.randint(2, cfg.vocab_size, (batch, cfg.seq_len), generator=g)
    return Batch(inputs, labels, torch.zeros(batch, dtype=torch.long))


@pytest.mark.slow
def test_paper_configuration_has_the_papers_parameter_count():
    # 27,275,266 for Sudoku (vocab 11, 81 cells) as logged by the reference implementation.
    assert count_parameters(HRM(paper_27m(vocab_size=11, seq_len=81))) == 27_275_266


def record_grad_modes(model: HRM) -> list[tuple[str, bool]]:
    calls = []
    for name in ("L_level", "H_level"):
        getattr(model, name).register_forward_pre_hook(lambda m, a, name=name: calls.append((name, torch.is_grad_enabled())))
    return calls


@pytest.mark.parametrize(
    "gradient, expected_grad_calls",
    [("one_step", 2), ("last_cycle", 3), ("full_segment", 6)],  # N=2 cycles of T=2 L-steps + 1 H-step
)
def test_only_the_last_calls_of_a_segment_build_a_graph(gradient, expected_grad_calls):
    model = HRM(tiny(gradient=gradient))
    calls = record_grad_modes(model)
    batch = random_batch(model.cfg)
    model(model.initial_carry(4), batch.inputs, batch.puzzle_ids)
    assert [name for name, _ in calls] == ["L_level", "L_level", "H_level"] * 2
    modes = [grad for _, grad in calls]
    assert modes == [False] * (6 - expected_grad_calls) + [True] * expected_grad_calls


def test_one_step_gradient_does_not_reach_the_incoming_state():
    """With the 1-step approximation the gradient stops at the no-grad calls; BPTT reaches the carry."""
    for gradient, reaches in (("one_step", False), ("full_segment", True)):
        model = HRM(tiny(gradient=gradient))
        batch = random_batch(model.cfg)
        carry = model.initial_carry(4)
        carry.z_L.requires_grad_(True)
        out = model(carry, batch.inputs, batch.puzzle_ids)
        out.logits.sum().backward()
        assert (carry.z_L.grad is not None) == reaches, gradient
        # Parameters of both modules are trained in every mode.
        assert model.L_level.blocks[0].attn.qkv_proj.weight.grad.abs().sum() > 0
        assert model.H_level.blocks[0].mlp.down_proj.weight.grad.abs().sum() > 0


def saved_bytes_for_backward(cfg: ModelConfig) -> int:
    torch.manual_seed(0)
    model = HRM(cfg)
    batch = random_batch(cfg)
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(model.initial_carry(4), batch.inputs, batch.puzzle_ids)
        out.logits.sum().backward()
    return total


def test_backward_memory_does_not_grow_with_cycles_in_one_step_mode():
    small = saved_bytes_for_backward(tiny(H_cycles=2, L_cycles=2))
    large = saved_bytes_for_backward(tiny(H_cycles=4, L_cycles=6))
    assert small == large
    # The same comparison with full backpropagation does grow: the measurement is sensitive.
    bptt_small = saved_bytes_for_backward(tiny(H_cycles=2, L_cycles=2, gradient="full_segment"))
    bptt_large = saved_bytes_for_backward(tiny(H_cycles=4, L_cycles=6, gradient="full_segment"))
    assert bptt_large > 3 * bptt_small


def test_carry_is_detached_between_segments():
    # Even with full backpropagation inside a segment, nothing flows back into an earlier segment.
    model = HRM(tiny(gradient="full_segment"))
    batch = random_batch(model.cfg)
    carry = model.initial_carry(4)
    carry.z_L.requires_grad_(True)
    first = model(carry, batch.inputs, batch.puzzle_ids)
    assert first.carry.z_H.grad_fn is None and first.carry.z_L.grad_fn is None
    second = model(first.carry, batch.inputs, batch.puzzle_ids)
    second.logits.sum().backward()
    assert carry.z_L.grad is None


def test_untrained_q_head_does_not_halt_early():
    model = HRM(tiny())
    batch = random_batch(model.cfg)
    out = model(model.initial_carry(4), batch.inputs, batch.puzzle_ids)
    assert torch.allclose(out.q_halt, torch.full((4,), -5.0))
    trace = run_segments(model, batch.inputs, batch.puzzle_ids, segments=3)
    assert not trace.halt[:-1].any()
    assert trace.halt_step.tolist() == [3, 3, 3, 3]


def test_q_continue_target_follows_the_paper():
    next_halt = torch.tensor([2.0, -1.0, 0.5, -3.0])
    next_cont = torch.tensor([1.0, 3.0, 4.0, -2.0])
    is_last = torch.tensor([False, False, True, True])
    expected = torch.sigmoid(torch.tensor([2.0, 3.0, 0.5, -3.0]))  # max unless last, then halt only
    assert torch.allclose(q_continue_target(next_halt, next_cont, is_last), expected)


def test_act_segment_uses_a_second_pass_of_the_next_segment_as_target():
    torch.manual_seed(0)
    model = HRM(tiny(halt_max_steps=3, halt_exploration_prob=0.0))
    with torch.no_grad():  # make the Q-head non-trivial
        model.q_head.weight.normal_()
        model.q_head.bias.zero_()
    batch = random_batch(model.cfg)
    state = ACTState.empty(model, batch).refill(model, batch)
    seg = act_train_segment(model, state)
    with torch.no_grad():
        nxt = model(seg.out.carry, batch.inputs, batch.puzzle_ids)
    expected = q_continue_target(nxt.q_halt, nxt.q_continue, torch.zeros(4, dtype=torch.bool))
    assert torch.allclose(seg.target_q_continue, expected)
    # Halting: exactly the rows whose Q(halt) beat Q(continue).
    assert torch.equal(seg.state.halted, seg.out.q_halt > seg.out.q_continue)
    assert seg.state.steps.tolist() == [1, 1, 1, 1]


def test_rows_halt_at_max_steps_and_are_refilled_with_fresh_state():
    model = HRM(tiny(halt_max_steps=2, halt_exploration_prob=0.0))
    batch = random_batch(model.cfg)
    state = ACTState.empty(model, batch).refill(model, batch)
    state = act_train_segment(model, state).state
    assert not state.halted.any()  # the untrained Q-head never halts before M_max
    state = act_train_segment(model, state).state
    assert state.halted.all() and state.steps.tolist() == [2, 2, 2, 2]
    fresh = random_batch(model.cfg, seed=1)
    refilled = state.refill(model, fresh)
    assert torch.equal(refilled.batch.inputs, fresh.inputs)
    assert refilled.steps.tolist() == [0, 0, 0, 0]
    assert torch.equal(refilled.carry.z_H, model.initial_carry(4).z_H)


def test_a_lower_segment_limit_halts_rows_earlier():
    from reasoner.train import segment_limit

    assert [segment_limit(s, 100, 8) for s in (0, 50, 99, 100, 500)] == [1, 4, 7, 8, 8]
    model = HRM(tiny(halt_max_steps=4))
    batch = random_batch(model.cfg)
    state = ACTState.empty(model, batch).refill(model, batch)
    seg = act_train_segment(model, state, max_steps=1)
    assert seg.state.halted.all() and seg.target_q_continue is None
    seg = act_train_segment(model, state, max_steps=2)
    assert not seg.state.halted.any() and seg.target_q_continue is not None


def test_trm_architecture_shares_one_network():
    hrm, trm = HRM(tiny()), HRM(tiny(architecture="trm", gradient="last_cycle"))
    assert trm.H_level is trm.L_level
    assert count_parameters(trm) < count_parameters(hrm)


def test_stablemax_gradient_is_finite_where_the_unused_branch_explodes():
    logits = torch.tensor([[1.0, 0.0, -1.0]], requires_grad=True)  # 1/(1-x) is infinite at x = 1
    log_stablemax(logits)[0, 1].backward()
    assert torch.isfinite(logits.grad).all()


def test_stablemax_matches_its_definition_and_normalises():
    logits = torch.tensor([[2.0, 0.0, -1.0, -3.0]])
    s = torch.tensor([3.0, 1.0, 0.5, 0.25])
    assert torch.allclose(log_stablemax(logits).exp().float(), (s / s.sum())[None])


@pytest.mark.parametrize("kind", ["stablemax", "softmax"])
def test_loss_ignores_masked_labels_and_rewards_halting_only_when_right(kind):
    logits = torch.full((2, 3, 4), -2.0)
    logits[0, :, 1] = 5.0  # row 0 predicts 1 everywhere
    logits[1, :, 2] = 5.0  # row 1 predicts 2 everywhere
    labels = torch.tensor([[1, 1, IGNORE_LABEL], [2, 3, 2]])
    q = torch.zeros(2)
    loss, parts = act_loss(logits, labels, q, q, None, kind)
    assert parts["seq_correct"].tolist() == [True, False]
    assert parts["n_valid"].tolist() == [2, 3]
    expected_q = 2 * math.log(2)  # BCE of logit 0 against any target
    assert loss.item() == pytest.approx(parts["lm_loss"].item() + 0.5 * expected_q, rel=1e-5)


def test_adam_atan2_matches_the_reference_update():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5))
    ref = p.detach().clone()
    opt = AdamATan2([p], lr=0.1, betas=(0.9, 0.95), weight_decay=0.5)
    m = torch.zeros(5)
    v = torch.zeros(5)
    for t in range(1, 4):
        g = torch.randn(5)
        p.grad = g.clone()
        opt.step()
        ref = ref * (1 - 0.1 * 0.5)
        m = 0.9 * m + 0.1 * g
        v = 0.95 * v + 0.05 * g * g
        ref = ref - 0.1 / (1 - 0.9**t) * torch.atan2(m, (v / (1 - 0.95**t)).sqrt())
        assert torch.allclose(p.detach(), ref, atol=1e-6)


def test_sign_sgd_updates_only_the_rows_in_the_batch():
    model = HRM(tiny(num_puzzle_identifiers=5))
    opt = SignSGD([model.puzzle_emb], lr=0.01)
    batch = random_batch(model.cfg)
    ids = torch.tensor([1, 3, 3, 1])
    out = model(model.initial_carry(4), batch.inputs, ids)
    out.logits.square().mean().backward()
    assert model.puzzle_emb.grad.is_sparse
    opt.step()
    changed = (model.puzzle_emb.detach() != 0).any(-1)
    assert changed.tolist() == [False, True, False, True, False]
    assert torch.allclose(model.puzzle_emb.detach()[changed].abs(), torch.tensor(0.01))


def test_lr_schedule_warms_up_then_holds_or_decays():
    assert lr_factor(0, 10, 100, "constant", 1.0) == pytest.approx(0.1)
    assert lr_factor(50, 10, 100, "constant", 1.0) == 1.0
    assert lr_factor(100, 10, 100, "cosine", 0.1) == pytest.approx(0.1)
    # wsd: the constant rate until the last 20 steps, then the cosine half-way at step 90, floor at the end
    assert [lr_factor(s, 10, 100, "wsd", 0.1, 20) for s in (50, 80)] == [1.0, 1.0]
    assert lr_factor(90, 10, 100, "wsd", 0.1, 20) == pytest.approx(0.55)
    assert lr_factor(100, 10, 100, "wsd", 0.1, 20) == pytest.approx(0.1)


def test_ema_tracks_and_swaps_weights():
    model = HRM(tiny())
    ema = EMA(model, decay=0.5)
    ema.updates = 100  # past the warm-up: the decay is the configured 0.5
    original = model.lm_head.weight.detach().clone()
    with torch.no_grad():
        model.lm_head.weight.add_(2.0)
    ema.update(model)
    with ema.applied(model):
        assert torch.allclose(model.lm_head.weight, original + 1.0)
    assert torch.allclose(model.lm_head.weight, original + 2.0)
    restored = EMA(model, decay=0.5)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 101 and torch.equal(restored.shadow["lm_head.weight"], ema.shadow["lm_head.weight"])


def test_ema_warm_up_follows_early_weights():
    model = HRM(tiny())
    ema = EMA(model, decay=0.999)
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)
    ema.update(model)  # first update: decay 0.1, the average moves 90% of the way
    with ema.applied(model):
        shifted = model.lm_head.weight.detach().clone()
    assert torch.allclose(shifted, model.lm_head.weight.detach() - 0.1)


def test_grid_positions_share_row_column_and_box_components():
    cfg = tiny(pos_encoding="grid", grid_shape=(4, 4), grid_box=(2, 2))
    pos = HRM(cfg).grid_pos
    assert pos.index[5].tolist() == [1, 1, 0] and pos.index[10].tolist() == [2, 2, 3]
    assert pos().shape == (cfg.total_len, cfg.hidden_size)
    with pytest.raises(ValueError, match="grid_shape"):
        tiny(pos_encoding="grid", grid_shape=(3, 3))
    with pytest.raises(ValueError, match="does not tile"):
        tiny(pos_encoding="grid", grid_shape=(4, 4), grid_box=(3, 3))


def test_window_attention_moves_information_one_cell_per_layer():
    cfg = cpu_tiny(vocab_size=6, seq_len=25, pos_encoding="grid", grid_shape=(5, 5), attention="relations")
    model = HRM(cfg).eval()
    block = model.L_level.blocks[0]
    x = torch.randn(1, cfg.total_len, cfg.hidden_size)
    changed = x.clone()
    changed[0, 1 + 0] += 1.0  # grid cell (0, 0); position 0 is the puzzle prefix
    with torch.no_grad():
        diff = (block(changed, None, model.attn_mask) - block(x, None, model.attn_mask)).abs().sum(-1)[0]
    moved = {(int(i) - 1) // 5 * 10 + (int(i) - 1) % 5 for i in torch.nonzero(diff[1:] > 1e-6).flatten() + 1}
    assert moved == {0, 1, 10, 11}  # the cell itself and its 3x3 window, nothing further
    assert diff[0] > 1e-6  # the prefix sees every cell
    cross = HRM(cfg.model_copy(update={"attention_distance": "manhattan"})).attn_mask
    assert cross[1 + 12].nonzero().flatten().tolist() == [0, 1 + 7, 1 + 11, 1 + 12, 1 + 13, 1 + 17]  # prefix, up, left, self, right, down
    with pytest.raises(ValueError, match="needs grid_shape"):
        tiny(pos_encoding="learned", attention="relations")
    # Cards written before `attention` existed: a radius meant window attention, null meant global.
    legacy = cfg.model_dump(exclude={"attention", "relation"})
    assert ModelConfig.model_validate(legacy).attention == "relations"
    assert ModelConfig.model_validate({**legacy, "attention_radius": None}).attention == "global"


@pytest.mark.parametrize("bias, distance", [(False, "chebyshev"), (True, "chebyshev"), (True, "manhattan")])
def test_window_attention_in_shifted_form_equals_the_dense_mask(bias, distance):
    # On a 15x15 grid a cell relates to at most 10 of 226 positions: the model uses the shifted form.
    cfg = cpu_tiny(vocab_size=6, seq_len=225, pos_encoding="none", grid_shape=(15, 15), attention="relations",
                   relation_bias=bias, attention_distance=distance)
    torch.manual_seed(0)
    windowed = HRM(cfg).eval()
    assert windowed.windowed
    if bias:
        with torch.no_grad():
            windowed.relation_bias.normal_()
    dense = HRM(cfg).eval()
    dense.load_state_dict(windowed.state_dict())
    dense.windowed = False
    inputs, ids = torch.randint(1, 6, (3, 225)), torch.zeros(3, dtype=torch.long)
    with torch.no_grad():
        a = windowed(windowed.initial_carry(3), inputs, ids)
        b = dense(dense.initial_carry(3), inputs, ids)
    assert torch.allclose(a.logits, b.logits, atol=1e-4) and torch.allclose(a.carry.z_H, b.carry.z_H, atol=1e-4)
    assert torch.allclose(a.q_halt, b.q_halt, atol=1e-4)


def test_peer_attention_reaches_exactly_the_row_column_and_box():
    cfg = cpu_tiny(vocab_size=11, seq_len=81, grid_shape=(9, 9), grid_box=(3, 3), attention="relations", relation="peers")
    model = HRM(cfg).eval()
    block = model.L_level.blocks[0]
    x = torch.randn(1, cfg.total_len, cfg.hidden_size)
    changed = x.clone()
    changed[0, 1 + 4 * 9 + 4] += 1.0  # the centre cell, row 4 column 4 (from 0)
    with torch.no_grad():
        diff = (block(changed, None, model.attn_mask) - block(x, None, model.attn_mask)).abs().sum(-1)[0]
    moved = {int(i) - 1 for i in torch.nonzero(diff[1:] > 1e-6).flatten() + 1}
    peers = {r * 9 + c for r in range(9) for c in range(9) if r == 4 or c == 4 or (r // 3 == 1 and c // 3 == 1)}
    assert moved == peers and len(peers) == 21  # 8 in the row, 8 in the column, 4 more in the box, itself
    assert diff[0] > 1e-6
    with pytest.raises(ValueError, match="needs grid_box"):
        cpu_tiny(vocab_size=11, seq_len=81, grid_shape=(9, 9), attention="relations", relation="peers")


def test_relation_bias_is_learned_per_kind_and_does_not_depend_on_the_grid_size():
    small = cpu_tiny(vocab_size=6, seq_len=25, pos_encoding="none", grid_shape=(5, 5), attention="relations",
                     relation_bias=True)
    model = HRM(small)
    assert model.relation_bias.shape == (small.num_heads, 3 * 3 + 2)  # 9 offsets, prefix, unused 0
    with torch.no_grad():
        # kind 1 + (dr + 1) * 3 + (dc + 1) with (dr, dc) = query - key: (0, -1) is the key to the right
        model.relation_bias[:, 1 + 1 * 3 + 0] = 2.0
    mask = model.attention_mask()
    assert mask.shape == (small.num_heads, small.total_len, small.total_len)
    assert mask[0, 1 + 6, 1 + 7].item() == 2.0 and mask[0, 1 + 6, 1 + 5].item() == 0.0
    assert mask[0, 1 + 0, 1 + 24].item() == float("-inf")  # far apart: no attention
    # The same weights run a 7x7 grid: nothing in the state dict depends on the size.
    large = HRM(small.model_copy(update={"seq_len": 49, "grid_shape": (7, 7)}))
    large.load_state_dict(model.state_dict())
    out = large(large.initial_carry(2), torch.ones(2, 49, dtype=torch.long), torch.zeros(2, dtype=torch.long))
    assert out.logits.shape == (2, 49, 6) and torch.isfinite(out.logits).all()
    with pytest.raises(ValueError, match="relation_bias needs"):
        cpu_tiny(vocab_size=6, seq_len=25, grid_shape=(5, 5), relation_bias=True)


@pytest.mark.parametrize("relations", [False, True])
def test_bf16_attention_with_a_graph_matches_fp32(relations):
    # With a mask, a bf16 graph on the CPU takes the plain-ops attention: same answer as fp32 SDPA.
    from reasoner.model import Attention

    torch.manual_seed(0)
    cfg = cpu_tiny(11, 81, grid_shape=(9, 9), grid_box=(3, 3))
    attn = Attention(cfg)
    x = torch.randn(4, cfg.total_len, cfg.hidden_size)
    mask = HRM(cfg.model_copy(update={"attention": "relations", "relation": "peers"})).attn_mask if relations else None
    ref = attn(x, None, mask)
    (ref_grad,) = torch.autograd.grad(ref.square().sum(), attn.qkv_proj.weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attn(x, None, mask)
    (grad,) = torch.autograd.grad(out.float().square().sum(), attn.qkv_proj.weight)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref, atol=0.05, rtol=0.05)
    assert (grad - ref_grad).norm() / ref_grad.norm() < 0.05


@pytest.mark.parametrize("kind", ["bool", "scores"])
def test_masked_attention_in_plain_ops_equals_sdpa(kind):
    # On the CPU a masked attention outside fp32 training runs as plain ops; it must be SDPA's function.
    import torch.nn.functional as F

    from reasoner.model import masked_attention

    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 10, 8) for _ in range(3))
    allowed = torch.rand(10, 10) < 0.5
    allowed.fill_diagonal_(True)  # every query sees at least itself
    mask = allowed if kind == "bool" else torch.randn(2, 10, 10).masked_fill(~allowed, float("-inf"))
    with torch.no_grad():
        out = masked_attention(q, k, v, mask)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5)


INFERENCE_CONFIGS = {
    "peers with bias": dict(vocab_size=11, seq_len=81, pos_encoding="grid", grid_shape=(9, 9), grid_box=(3, 3),
                            attention="relations", relation="peers", relation_bias=True),
    "window form": dict(vocab_size=6, seq_len=225, pos_encoding="none", grid_shape=(15, 15), attention="relations",
                        relation_bias=True),
    "global rope trm": dict(vocab_size=6, seq_len=16, architecture="trm", gradient="last_cycle"),
}


@pytest.mark.parametrize("name", INFERENCE_CONFIGS)
def test_inference_path_matches_the_plain_path(name):
    # Inference mode runs the block functions on weights prepared once; no_grad runs the modules.
    torch.manual_seed(0)
    model = HRM(cpu_tiny(**INFERENCE_CONFIGS[name])).eval()
    if model.cfg.relation_bias:
        with torch.no_grad():
            model.relation_bias.normal_()
    batch = random_batch(model.cfg, batch=3)

    def two_segments():
        out = model(model.initial_carry(3), batch.inputs, batch.puzzle_ids)
        return model(out.carry, batch.inputs, batch.puzzle_ids)

    for bf16 in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            with torch.no_grad():
                plain = two_segments()
            with torch.inference_mode():
                fast = two_segments()
        assert fast.logits.dtype == plain.logits.dtype
        for a, b in ((fast.logits, plain.logits), (fast.carry.z_H, plain.carry.z_H), (fast.carry.z_L, plain.carry.z_L),
                     (fast.q_halt, plain.q_halt)):
            if bf16:  # bf16 noise: the fused kernel rounds differently from the math one (which works in fp32)
                assert (a.float() - b.float()).norm() / b.float().norm() < 0.05, name
            else:
                assert torch.allclose(a, b, atol=1e-4), name


@pytest.mark.slow
@pytest.mark.parametrize("name", ["peers with bias", "window form"])
def test_compiled_inference_matches_the_inference_path_at_every_batch_size(name):
    # compile_inference: one dynamic-shape compile serves a batch as it shrinks; a batch of one runs
    # uncompiled. Answers must not change.
    torch.manual_seed(0)
    plain_model = HRM(cpu_tiny(**INFERENCE_CONFIGS[name])).eval()
    with torch.no_grad():
        plain_model.relation_bias.normal_()
    compiled_model = HRM(plain_model.cfg).eval()
    compiled_model.load_state_dict(plain_model.state_dict())
    compiled_model.compile_inference()
    torch._dynamo.reset()
    for size in (5, 3, 1):
        batch = random_batch(plain_model.cfg, batch=size, seed=size)
        with torch.inference_mode():
            a = plain_model(plain_model.initial_carry(size), batch.inputs, batch.puzzle_ids)
            b = compiled_model(compiled_model.initial_carry(size), batch.inputs, batch.puzzle_ids)
        assert torch.allclose(a.logits, b.logits, atol=1e-4), (name, size)
        assert torch.allclose(a.carry.z_H, b.carry.z_H, atol=1e-4), (name, size)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # it did run compiled


def test_inference_weights_are_built_once_per_dtype_and_follow_the_parameters():
    torch.manual_seed(0)
    model = HRM(cpu_tiny(**INFERENCE_CONFIGS["peers with bias"])).eval()
    cpu = torch.device("cpu")
    with torch.inference_mode():
        fp32 = model.inference_weights(cpu)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model.inference_weights(cpu)
        assert model.inference_weights(cpu) is fp32  # kept, one per compute dtype
    # The cached pattern is the fresh one in the fused kernel's form; the weights are the parameters.
    assert torch.equal(fp32.pattern, model.attention_mask().detach()[None])
    assert bf16.pattern.dtype == torch.bfloat16 and torch.equal(bf16.pattern, model.attention_mask().detach().bfloat16()[None])
    assert torch.equal(bf16.L[-1].down, model.L_level.blocks[-1].mlp.down_proj.weight.detach().bfloat16())
    assert torch.equal(fp32.H[0].qkv, model.H_level.blocks[0].attn.qkv_proj.weight.detach())
    # Parameters written in place (an optimizer step, load_state_dict, EMA) are picked up.
    batch = random_batch(model.cfg, batch=2)
    for change in (lambda: model.relation_bias.add_(1.0), lambda: model.L_level.blocks[0].mlp.gate_up_proj.weight.mul_(2.0)):
        with torch.no_grad():
            change()
            plain = model(model.initial_carry(2), batch.inputs, batch.puzzle_ids)
        with torch.inference_mode():
            fast = model(model.initial_carry(2), batch.inputs, batch.puzzle_ids)
        assert torch.allclose(fast.logits, plain.logits, atol=1e-4)
    state = {k: v + 0.01 for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    with torch.no_grad():
        plain = model(model.initial_carry(2), batch.inputs, batch.puzzle_ids)
    with torch.inference_mode():
        fast = model(model.initial_carry(2), batch.inputs, batch.puzzle_ids)
    assert torch.allclose(fast.logits, plain.logits, atol=1e-4)


@pytest.mark.parametrize("name", [*INFERENCE_CONFIGS, "learned positions"])
def test_a_widened_model_computes_what_the_narrow_one_did_and_its_copies_drift_apart(name):
    overrides = dict(vocab_size=6, seq_len=16, pos_encoding="learned") if name == "learned positions" else INFERENCE_CONFIGS[name]
    torch.manual_seed(0)
    narrow = HRM(cpu_tiny(**overrides)).eval()
    with torch.no_grad():  # trained-looking weights: a q_head and relation bias that are not zero
        narrow.q_head.weight.normal_()
        narrow.puzzle_emb.normal_()
        if narrow.cfg.relation_bias:
            narrow.relation_bias.normal_()
    wide_cfg = narrow.cfg.model_copy(update={"hidden_size": 3 * narrow.cfg.hidden_size, "num_heads": 3 * narrow.cfg.num_heads})
    wide = HRM(wide_cfg)
    wide.load_state_dict(widen(narrow.state_dict(), narrow.cfg, wide_cfg))
    batch = random_batch(narrow.cfg, batch=3)
    carries = narrow.initial_carry(3), wide.initial_carry(3)
    with torch.no_grad():
        for _ in range(3):
            a, b = (m(c, batch.inputs, batch.puzzle_ids) for m, c in zip((narrow, wide), carries))
            carries = a.carry, b.carry
            assert torch.allclose(a.logits, b.logits, atol=1e-3) and torch.allclose(a.q_halt, b.q_halt, atol=1e-3)
            assert torch.allclose(b.carry.z_H, a.carry.z_H.repeat(1, 1, 3), atol=1e-3)
    # One gradient step: the three copies of a hidden unit receive different gradients.
    loss = wide(wide.initial_carry(3), batch.inputs, batch.puzzle_ids).logits.square().mean()
    loss.backward()
    grad = wide.L_level.blocks[0].attn.o_proj.weight.grad.view(3, narrow.cfg.hidden_size, -1)
    assert not torch.allclose(grad[0], grad[1]) and not torch.allclose(grad[1], grad[2])


def test_widening_refuses_what_it_cannot_preserve():
    cfg = tiny()
    state = HRM(cfg).state_dict()
    for update, message in [({"hidden_size": 48}, "not a multiple"), ({"hidden_size": 64}, "needs num_heads 4"),
                            ({"hidden_size": 64, "num_heads": 4, "L_layers": 2}, "also changed: L_layers")]:
        with pytest.raises(ValueError, match=message):
            widen(state, cfg, cfg.model_copy(update=update))
    with pytest.raises(ValueError, match="no rule to widen"):
        widen({**state, "extra.weight": torch.zeros(2)}, cfg, cfg.model_copy(update={"hidden_size": 64, "num_heads": 4}))
