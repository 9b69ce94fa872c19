"""More ONNX operators as plain torch functions, under the rules of runtime/torch_ops.py (the
generator copies them verbatim): dense and convolution layers, the recurrent layers (LSTM,
GRU, RNN) and control flow (If, Loop, Scan).

Control flow takes its subgraphs as keyword arguments: Python callables that take the
subgraph's inputs positionally and return its outputs as a list. The interpreter passes
functions that run the IR subgraph; the generated source passes the nested functions it
writes for them, so both run the same operator code.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .torch_ops import onnx_dtype, onnx_op


# -- unary math ------------------------------------------------------------------------------------
@onnx_op("Relu")
def onnx_relu(x, /):
    return torch.relu(x)


@onnx_op("Sigmoid")
def onnx_sigmoid(x, /):
    return torch.sigmoid(x)


@onnx_op("Tanh")
def onnx_tanh(x, /):
    return torch.tanh(x)


@onnx_op("Exp")
def onnx_exp(x, /):
    return torch.exp(x)


@onnx_op("Log")
def onnx_log(x, /):
    return torch.log(x)


@onnx_op("Sqrt")
def onnx_sqrt(x, /):
    return torch.sqrt(x)


@onnx_op("Reciprocal")
def onnx_reciprocal(x, /):
    return torch.reciprocal(x)


@onnx_op("Floor")
def onnx_floor(x, /):
    return torch.floor(x)


@onnx_op("Ceil")
def onnx_ceil(x, /):
    return torch.ceil(x)


@onnx_op("Round")
def onnx_round(x, /):
    return torch.round(x)  # halves to even, as ONNX asks


@onnx_op("Erf")
def onnx_erf(x, /):
    return torch.erf(x)


@onnx_op("Sin")
def onnx_sin(x, /):
    return torch.sin(x)


@onnx_op("Cos")
def onnx_cos(x, /):
    return torch.cos(x)


# -- dense layers and normalisation ----------------------------------------------------------------
@onnx_op("Gemm")
def onnx_gemm(a, b, c=None, /, *, alpha=1.0, beta=1.0, transA=0, transB=0):
    a = a.t() if transA else a
    b = b.t() if transB else b
    y = a @ b
    y = y if alpha == 1 else alpha * y
    if c is None:
        return y
    return y + (c if beta == 1 else beta * c)


@onnx_op("MatMul")
def onnx_matmul(a, b, /):
    return torch.matmul(a, b)


@onnx_op("torch.linear")
def torch_linear(x, w, b=None, /):
    return F.linear(x, w, b)


@onnx_op("torch.unbind", multi_output=True)
def torch_unbind(x, /, *, dim=0):
    return tuple(torch.unbind(x, dim=dim))


@onnx_op("Embedding")
def onnx_embedding(idx, table, /):
    return F.embedding(idx.long(), table)


@onnx_op("GlobalAveragePool")
def onnx_global_average_pool(x, /):
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


@onnx_op("GlobalMaxPool")
def onnx_global_max_pool(x, /):
    return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)


@onnx_op("InstanceNormalization")
def onnx_instance_normalization(x, scale, b, /, *, epsilon=1e-5):
    return F.instance_norm(x, weight=scale, bias=b, eps=epsilon)


@onnx_op("LRN")
def onnx_lrn(x, /, *, size, alpha=0.0001, beta=0.75, bias=1.0):
    # ONNX and torch share the formula: x / (bias + alpha/size * sum(x^2 over size))^beta
    return F.local_response_norm(x, size, alpha=alpha, beta=beta, k=bias)


@onnx_op("CausalConvWithState", multi_output=True)
def onnx_causal_conv_with_state(x, w, b=None, past_state=None, /, *, activation="none"):
    """Depthwise 1-D convolution over [past_state, x] (zeros when no past): (y, the last
    k - 1 steps as the next state); silu/swish computed in float32."""
    k = w.shape[2]
    past = x.new_zeros(x.shape[0], x.shape[1], k - 1) if past_state is None else past_state
    padded = torch.cat([past, x], 2)
    y = F.conv1d(padded, w, b, groups=x.shape[1])
    if activation in ("silu", "swish"):
        y = (y.float() * torch.sigmoid(y.float())).to(x.dtype)
    return y, padded[:, :, padded.shape[2] - (k - 1):]


def heads_of(x, heads):
    """[B, T, H*D] -> [B, H, T, D] in float32."""
    b, t, hd = x.shape
    return x.reshape(b, t, heads, hd // heads).transpose(1, 2).float()


@onnx_op("LinearAttention", multi_output=True)
def onnx_linear_attention(query, key, value, past_state=None, decay=None, beta=None, /, *,
                          chunk_size=None, kv_num_heads, q_num_heads, scale=None,
                          update_rule="gated_delta"):
    """A recurrent state S [B, H_kv, d_k, d_v] updated per step (S = S * exp(decay) when
    gated; v = beta * (v - S^T k) for the delta rules; S += k v^T) and read by q:
    (output [B, T, H_q * d_v], the final state). Computed in float32."""
    b, t, _ = query.shape
    q4, k4, v4 = heads_of(query, q_num_heads), heads_of(key, kv_num_heads), \
        heads_of(value, kv_num_heads)
    d_k, d_v = q4.shape[-1], v4.shape[-1]
    group = q_num_heads // kv_num_heads
    if decay is not None:
        decay = decay.reshape(b, t, kv_num_heads, -1).transpose(1, 2).float()
    if beta is not None:
        beta = beta.reshape(b, t, beta.shape[-1], 1).transpose(1, 2).float()
    if past_state is None:
        state = query.new_zeros(b, kv_num_heads, d_k, d_v, dtype=torch.float32)
        state_dtype = query.dtype
    else:
        state, state_dtype = past_state.float(), past_state.dtype
    scale = 1.0 / d_k ** 0.5 if not scale else float(scale)
    outs = []
    for i in range(t):
        k_t, v_t = k4[:, :, i], v4[:, :, i]
        if decay is not None:
            state = state * torch.exp(decay[:, :, i])[..., None]
        if beta is not None:
            v_t = beta[:, :, i] * (v_t - torch.einsum("bhdm,bhd->bhm", state, k_t))
        state = state + k_t[..., :, None] * v_t[..., None, :]
        read = state if group == 1 else state.repeat_interleave(group, 1)
        outs.append(scale * torch.einsum("bhd,bhdm->bhm", q4[:, :, i], read))
    out = torch.stack(outs, 2) if outs else q4.new_zeros(b, q_num_heads, 0, d_v)
    out = out.transpose(1, 2).reshape(b, t, q_num_heads * d_v)
    return out.to(query.dtype), state.to(state_dtype)


# -- recurrent layers (ONNX LSTM, GRU, RNN) --------------------------------------------------------
# activation name (lower case) -> (fn(x, alpha, beta), default alpha, default beta); a None
# default: the function takes no such argument and consumes none from the lists. Defaults are
# the ONNX operators'.
RNN_ACTIVATIONS = {
    "relu": (lambda x, a, b: torch.relu(x), None, None),
    "tanh": (lambda x, a, b: torch.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: torch.sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: F.leaky_relu(x, a), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: torch.where(x > a, x, torch.zeros_like(x)), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * torch.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: torch.clamp(a * x + b, 0.0, 1.0), 0.2, 0.5),
    "elu": (lambda x, a, b: F.elu(x, a), 1.0, None),
    "softsign": (lambda x, a, b: F.softsign(x), None, None),
    "softplus": (lambda x, a, b: F.softplus(x), None, None),
}


def rnn_activations(defaults, names, alphas, betas, directions):
    """Per direction, the activation functions (f, g, h...) with their alpha/beta bound;
    activation_alpha/beta are consumed in order, only by the functions that take them."""
    names = list(names or defaults * directions)
    if len(names) == len(defaults) and directions == 2:
        names = names * 2
    alphas, betas = iter(alphas or []), iter(betas or [])
    fns = []
    for name in names:
        if str(name).lower() not in RNN_ACTIVATIONS:
            raise NotImplementedError(f"unknown activation '{name}'")
        fn, default_a, default_b = RNN_ACTIVATIONS[str(name).lower()]
        a = None if default_a is None else float(next(alphas, default_a))
        b = None if default_b is None else float(next(betas, default_b))
        fns.append(lambda x, fn=fn, a=a, b=b: fn(x, a, b))
    k = len(defaults)
    return [fns[d * k:(d + 1) * k] for d in range(directions)]


def reverse_time(xs, lens):
    """Each sequence of ``xs`` [seq, batch, ...] reversed within its own length (steps past
    it stay put): the same permutation undoes it."""
    if lens is None:
        return xs.flip(0)
    seq, batch = xs.shape[0], xs.shape[1]
    t = torch.arange(seq).unsqueeze(1)
    lens = lens.to(torch.int64).unsqueeze(0)
    index = torch.where(t < lens, lens - 1 - t, t.expand(seq, batch))
    index = index.reshape(seq, batch, *([1] * (xs.dim() - 2))).expand_as(xs)
    return xs.gather(0, index)


def scan_direction(xs, state, step, reverse, lens):
    """Run ``step(x_t, state) -> state`` (state[0] is the hidden state) over ``xs``
    [seq, batch, ...]. Batch entries past their sequence length keep their state and output
    zeros. Returns (Y [seq, batch, hidden], final state)."""
    if reverse:
        xs = reverse_time(xs, lens)
    ys = []
    for t in range(xs.shape[0]):
        new = step(xs[t], state)
        if lens is not None:
            valid = (t < lens).unsqueeze(1)
            new = tuple(torch.where(valid, n, s) for n, s in zip(new, state))
            ys.append(torch.where(valid, new[0], torch.zeros_like(new[0])))
        else:
            ys.append(new[0])
        state = new
    y = torch.stack(ys) if ys else state[0].new_zeros((0,) + tuple(state[0].shape))
    return (reverse_time(y, lens) if reverse else y), state


def lstm_step(r, rb, p, acts, clip, input_forget, hidden):
    f, g, h = acts

    def step(xw, state):
        h_prev, c_prev = state
        gates = xw + h_prev @ r.t() + rb
        i, o, fg, c = gates.split(hidden, -1)
        if p is not None:  # peepholes: i and f read the previous cell, o the new one
            pi, po, pf = p.split(hidden)
            i, fg = i + pi * c_prev, fg + pf * c_prev
        i = f(clip(i))
        fg = 1 - i if input_forget else f(clip(fg))
        c_new = fg * c_prev + i * g(clip(c))
        if p is not None:
            o = o + po * c_new
        return f(clip(o)) * h(c_new), c_new
    return step


def gru_step(r, rb, acts, clip, linear_before_reset, hidden):
    f, g = acts
    r_zr, r_h = r[:2 * hidden], r[2 * hidden:]
    rb_zr, rb_h = rb[:2 * hidden], rb[2 * hidden:]

    def step(xw, state):
        (h_prev,) = state
        x_z, x_r, x_h = xw.split(hidden, -1)
        h_z, h_r = (h_prev @ r_zr.t() + rb_zr).split(hidden, -1)
        z, reset = f(clip(x_z + h_z)), f(clip(x_r + h_r))
        if linear_before_reset:
            h_tilde = g(clip(x_h + reset * (h_prev @ r_h.t() + rb_h)))
        else:
            h_tilde = g(clip(x_h + (reset * h_prev) @ r_h.t() + rb_h))
        return ((1 - z) * h_tilde + z * h_prev,)
    return step


def rnn_step(r, rb, acts, clip):
    (f,) = acts

    def step(xw, state):
        return (f(clip(xw + state[0] @ r.t() + rb)),)
    return step


def recurrent(kind, x, w, r, b, lens, h0, c0, p, activations, alphas, betas, clip, direction,
              layout, input_forget=0, linear_before_reset=0):
    """ONNX LSTM / GRU / RNN: outputs Y [seq, dirs, batch, hidden], Y_h (and Y_c for LSTM)
    [dirs, batch, hidden]; layout 1 puts the batch first in all of them."""
    gates, defaults = {"LSTM": (4, ["Sigmoid", "Tanh", "Tanh"]), "GRU": (3, ["Sigmoid", "Tanh"]),
                       "RNN": (1, ["Tanh"])}[kind]
    if layout:
        x = x.transpose(0, 1)
        h0, c0 = (None if t is None else t.transpose(0, 1) for t in (h0, c0))
    dirs, hidden = w.shape[0], w.shape[1] // gates
    if b is None:
        b = x.new_zeros(dirs, 2 * gates * hidden)
    bound = None if clip is None else float(clip)
    clip_fn = (lambda t: t) if bound is None else (lambda t: torch.clamp(t, -bound, bound))
    acts = rnn_activations(defaults, activations, alphas, betas, dirs)
    zeros = x.new_zeros(x.shape[1], hidden)
    ys, finals = [], []
    for d in range(dirs):
        wb, rb = b[d, :gates * hidden], b[d, gates * hidden:]
        xw = x @ w[d].t() + wb  # the input projection of every step at once
        state = (zeros if h0 is None else h0[d],)
        if kind == "LSTM":
            state += (zeros if c0 is None else c0[d],)
            step = lstm_step(r[d], rb, None if p is None else p[d], acts[d], clip_fn,
                             input_forget, hidden)
        elif kind == "GRU":
            step = gru_step(r[d], rb, acts[d], clip_fn, linear_before_reset, hidden)
        else:
            step = rnn_step(r[d], rb, acts[d], clip_fn)
        y, state = scan_direction(xw, state, step, direction == "reverse" or d == 1, lens)
        ys.append(y)
        finals.append(state)
    y = torch.stack(ys, 1)
    outs = [y.permute(2, 0, 1, 3) if layout else y]
    for k in range(len(finals[0])):  # Y_h, then Y_c
        s = torch.stack([f[k] for f in finals])
        outs.append(s.transpose(0, 1) if layout else s)
    return tuple(outs)


@onnx_op("LSTM", multi_output=True)
def onnx_lstm(x, w, r, b=None, lens=None, h0=None, c0=None, p=None, /, *,
              activation_alpha=None, activation_beta=None, activations=None, clip=None,
              direction="forward", hidden_size=None, input_forget=0, layout=0):
    return recurrent("LSTM", x, w, r, b, lens, h0, c0, p, activations, activation_alpha,
                     activation_beta, clip, direction, layout, input_forget=input_forget)


@onnx_op("GRU", multi_output=True)
def onnx_gru(x, w, r, b=None, lens=None, h0=None, /, *, activation_alpha=None,
             activation_beta=None, activations=None, clip=None, direction="forward",
             hidden_size=None, layout=0, linear_before_reset=0):
    return recurrent("GRU", x, w, r, b, lens, h0, None, None, activations, activation_alpha,
                     activation_beta, clip, direction, layout,
                     linear_before_reset=linear_before_reset)


@onnx_op("RNN", multi_output=True)
def onnx_rnn(x, w, r, b=None, lens=None, h0=None, /, *, activation_alpha=None,
             activation_beta=None, activations=None, clip=None, direction="forward",
             hidden_size=None, layout=0):
    return recurrent("RNN", x, w, r, b, lens, h0, None, None, activations, activation_alpha,
                     activation_beta, clip, direction, layout)


# -- control flow (If, Loop, Scan) -----------------------------------------------------------------
def stacked(parts, first):
    """Per-iteration values stacked on a new axis 0; for zero iterations an empty tensor
    shaped like ``first`` (the body's output on a trial run, or None when unknown)."""
    if parts:
        return torch.stack(parts)
    if first is None:
        return torch.zeros(0)
    return first.new_zeros((0,) + tuple(first.shape))


@onnx_op("If", multi_output=True)
def onnx_if(cond, /, *, then_branch, else_branch):
    return tuple((then_branch if bool(cond) else else_branch)())


@onnx_op("Loop", multi_output=True)
def onnx_loop(trip=None, cond=None, /, *carried, body, n_outputs=None):
    """ONNX Loop: the body maps (i, cond, carried...) to (cond, carried..., scan outputs...)
    and runs while i < trip (when given) and cond. The body's cond is obeyed even with no cond
    input, as onnxruntime does. ``n_outputs``: how many outputs the node has."""
    trip = None if trip is None else int(trip)
    going = True if cond is None else bool(cond)
    n = len(carried)
    carried = list(carried)
    scans = None
    i = 0
    while going and (trip is None or i < trip):
        outs = body(torch.tensor(i, dtype=torch.int64), torch.tensor(going), *carried)
        going = bool(outs[0])
        carried = list(outs[1:1 + n])
        scans = [[] for _ in outs[1 + n:]] if scans is None else scans
        for parts, t in zip(scans, outs[1 + n:]):
            parts.append(t)
        i += 1
    if scans is None:  # no iteration: a trial run gives the scan outputs' shapes and types
        try:
            trial = body(torch.tensor(0, dtype=torch.int64), torch.tensor(True), *carried)
        except Exception:  # noqa: BLE001 - a body that fails on a trial run: shapes unknown
            return tuple(carried + [stacked([], None)] * ((n_outputs or n) - n))
        return tuple(carried + [stacked([], t) for t in trial[1 + n:]])
    return tuple(carried + [stacked(parts, None) for parts in scans])


@onnx_op("Scan", multi_output=True)
def onnx_scan(*ins, body, num_scan_inputs, scan_input_axes=None, scan_input_directions=None,
              scan_output_axes=None, scan_output_directions=None, n_outputs=None):
    """ONNX Scan (opset 9+): inputs (states..., scan inputs...); the body maps (states...,
    one slice of each scan input) to (states..., one slice of each scan output)."""
    m = num_scan_inputs
    if ins and ins[0] is None:  # opset 8's sequence_lens
        raise NotImplementedError("Scan: the opset-8 form (batched, sequence_lens) is not run")
    states, xs = list(ins[:len(ins) - m]), ins[len(ins) - m:]
    in_axes = [a % x.dim() for a, x in zip(scan_input_axes or [0] * m, xs)]
    in_dirs = scan_input_directions or [0] * m
    length = xs[0].shape[in_axes[0]]
    parts = None
    for t in range(length):
        slices = [x.select(a, length - 1 - t if rev else t)
                  for x, a, rev in zip(xs, in_axes, in_dirs)]
        outs = body(*states, *slices)
        states = list(outs[:len(states)])
        parts = [[] for _ in outs[len(states):]] if parts is None else parts
        for p, o in zip(parts, outs[len(states):]):
            p.append(o)
    k = len(parts) if parts is not None else (n_outputs or len(states)) - len(states)
    parts = parts if parts is not None else [[] for _ in range(k)]
    out_axes = scan_output_axes or [0] * k
    out_dirs = scan_output_directions or [0] * k
    results = []
    for p, axis, rev in zip(parts, out_axes, out_dirs):
        out = stacked(p[::-1] if rev else p, None)
        results.append(out.movedim(0, axis % out.dim()))
    return tuple(states + results)


# -- regions of interest ---------------------------------------------------------------------------
def roi_sample_axis(start, bin_size, bins, grid, size):
    """Bilinear sampling along one axis for RoiAlign: (low index, high index, low weight,
    high weight, inside) at the grid's ``bins * grid`` sample points."""
    k = torch.arange(bins * grid, dtype=torch.float64)
    at = start + (k // grid) * bin_size + (k % grid + 0.5) * bin_size / grid
    inside = (at >= -1.0) & (at <= size)
    at = at.clamp(min=0)
    low = at.floor().to(torch.int64)
    last = low >= size - 1
    low = torch.where(last, size - 1, low)
    high = torch.where(last, size - 1, low + 1)
    at = torch.where(last, low.to(torch.float64), at)
    frac = at - low
    return low, high, 1 - frac, frac, inside


@onnx_op("RoiAlign")
def onnx_roi_align(x, rois, batch_indices, /, *, coordinate_transformation_mode="half_pixel",
                   mode="avg", output_height=1, output_width=1, sampling_ratio=0,
                   spatial_scale=1.0):
    """Average (or max) of bilinear samples on a grid in each output bin, per region."""
    offset = 0.5 if coordinate_transformation_mode == "half_pixel" else 0.0
    height, width = x.shape[2], x.shape[3]
    outs = []
    for roi, b in zip(rois.to(torch.float64).tolist(), batch_indices.tolist()):
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in roi[:4])
        roi_w, roi_h = x2 - x1, y2 - y1
        if offset == 0.0:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / output_height, roi_w / output_width
        grid_h = int(sampling_ratio) if sampling_ratio > 0 else int(-(-roi_h // output_height))
        grid_w = int(sampling_ratio) if sampling_ratio > 0 else int(-(-roi_w // output_width))
        feat = x[int(b)].to(torch.float64)
        if grid_h * grid_w == 0:
            outs.append(feat.new_zeros(feat.shape[0], output_height, output_width))
            continue
        ylo, yhi, yw_lo, yw_hi, y_in = roi_sample_axis(y1, bin_h, output_height, grid_h, height)
        xlo, xhi, xw_lo, xw_hi, x_in = roi_sample_axis(x1, bin_w, output_width, grid_w, width)
        inside = (y_in[:, None] & x_in[None, :]).to(torch.float64)
        corners = [(ys, yw, xs, xw) for ys, yw in ((ylo, yw_lo), (yhi, yw_hi))
                   for xs, xw in ((xlo, xw_lo), (xhi, xw_hi))]
        terms = [feat[:, ys][:, :, xs] * (yw[:, None] * xw[None, :] * inside)
                 for ys, yw, xs, xw in corners]
        shape = (feat.shape[0], output_height, grid_h, output_width, grid_w)
        if mode == "max":
            best = torch.stack(terms).amax(0).reshape(shape)
            outs.append(best.amax(dim=(2, 4)))
        else:
            total = (terms[0] + terms[1] + terms[2] + terms[3]).reshape(shape)
            outs.append(total.sum(dim=(2, 4)) / max(grid_h * grid_w, 1))
    if not outs:
        return x.new_zeros(0, x.shape[1], output_height, output_width)
    return torch.stack(outs).to(x.dtype)


# -- signal processing -----------------------------------------------------------------------------
@onnx_op("STFT")
def onnx_stft(signal, frame_step, window=None, frame_length=None, /, *, onesided=1):
    """Frames of ``frame_length`` every ``frame_step`` samples, windowed, each transformed:
    [batch, frames, bins, 2] (real, imaginary)."""
    n = int(frame_length) if frame_length is not None else window.shape[0]
    if signal.shape[-1] == 1:
        sig = signal[..., 0]
    else:
        sig = torch.complex(signal[..., 0], signal[..., 1])
    frames = sig.unfold(1, n, int(frame_step))
    if window is not None:
        frames = frames * window
    y = torch.fft.fft(frames, dim=-1)
    if onesided:
        y = y[..., :n // 2 + 1]
    return torch.stack([y.real, y.imag], -1).to(signal.dtype)


@onnx_op("MelWeightMatrix")
def onnx_mel_weight_matrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
                           upper_edge_hertz, /, *, output_datatype=1):
    """[dft_length // 2 + 1, num_mel_bins] triangular filters, evenly spaced in mel."""
    bins, n_fft = int(num_mel_bins), int(dft_length)
    f64 = torch.float64
    ln10 = torch.log(torch.tensor(10.0, dtype=f64))
    lo, hi = (2595 * torch.log1p(torch.tensor(float(f), dtype=f64) / 700) / ln10
              for f in (lower_edge_hertz, upper_edge_hertz))
    mel = torch.arange(bins + 2, dtype=f64) * ((hi - lo) / (bins + 2)) + lo
    hertz = 700 * torch.expm1(mel / 2595 * ln10)
    edges = torch.div((n_fft + 1) * hertz, float(sample_rate), rounding_mode="floor")
    edges = [int(e) for e in edges.tolist()]
    out = torch.zeros(n_fft // 2 + 1, bins, dtype=f64)
    for i in range(bins):
        left, center, right = edges[i:i + 3]
        if center == left:
            out[center, i] = 1
        else:
            for j in range(left, center + 1):
                out[j, i] = (j - left) / (center - left)
        for j in range(center, right):
            out[j, i] = (right - j) / (right - center)
    return out.to(onnx_dtype(output_datatype))
