#!/usr/bin/env python3
"""PyTorch peer of hnet's training step: an independent implementation of model.md §3–§7.

The β-conditioned graph hypernetwork (graph-transformer encoder and decoder with hierarchical
latents, edge / edge-bilinear read-out, P(β) = P₀ + U φ(β)), the generated swish MLPs, the
objective, autograd for the backward, global-norm clipping and Adam, in float32 on the CPU (or a
GPU: --device cuda, torch >= 2.0, TF32 off). It exists to time hnet against: same shapes, same
parameter vector P (the same tensors in the same order as src/hnet/hypernet_layout.cpp, so p and
the size of θ match hnet's exactly) and the same counted FLOPs. Random numbers (initial values,
latent noise, inputs, β draws) come from torch's generator, not hnet's counter-based one (except
under --validate), so the numbers differ; the work does not.

Run with Debian's python3-torch (1.13):
    build/bin/hnet-python perf/peer/hnet_peer.py --config quick --warmup 5 --steps 50
    build/bin/hnet-python perf/peer/hnet_peer.py --config paper --warmup 1 --steps 3
    build/bin/hnet-python perf/peer/hnet_peer.py --table        # the parameter table, as JSON
It prints one line `PEER steps/s=... ms/step=... median_ms=... GFLOP/s=... p=... theta=...`
(perf/peer/compare.py parses it). It sets OMP_WAIT_POLICY=PASSIVE unless the environment sets it (see below).
    build/bin/hnet-python perf/peer/hnet_peer.py --validate results/quick/seed0.h5
checks the peer against a results file of `hnet train`: step 0 recomputed from hnet's θ with hnet's
own random numbers must give hnet's L, D_KL, J, gradient norm and Adam update.
"""
import argparse
import json
import math
import os
import resource
import sys
import time
import warnings

# libgomp's default spin-waiting lets torch's idle OpenMP workers hold the cores OpenBLAS's own
# threads need (torch 1.13 from Debian calls the pthread OpenBLAS): with 2 threads on 2 cores the
# peer ran at 0.5-5.5 steps/s instead of 7-10 with PASSIVE. libgomp reads it when torch loads it,
# so it is set before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Configurations (model.md §7): the reference CPU deck (inputs/quick.toml) and the paper scale.
CONFIGS = {
    "quick": dict(n=16, hidden_ratio=3, d=32, heads=4, blocks=2, latent=4, batch_beta=8, batch_x=256, lr=3e-3),
    "paper": dict(n=16, hidden_ratio=3, d=64, heads=4, blocks=4, latent=8, batch_beta=32, batch_x=1024, lr=1e-3),
}
COMMON = dict(identity_dim=16, phi_hidden=64, phi_dim=16, readout="edge_bilinear", sigma="bounded",
              prior="standard", prior_scale=0.2, rho_bias_init=2.0, u_init=1e-3, posterior_identity=True,
              log10_beta_min=-7.0, log10_beta_max=1.0, warmup_steps=500, lr_final_fraction=0.1,
              clip_norm=1.0, adam_beta1=0.9, adam_beta2=0.999, adam_eps=1e-8, beta_curriculum=True,
              curriculum_hold_steps=1000, curriculum_widen_steps=1000, total_steps=3000)
LAYERNORM_EPS = 1e-5
warnings.filterwarnings("ignore", message="scatter_reduce")  # "in beta" in torch 1.13; used without grad
DEVICE = "cpu"  # --device: where the peer's tensors and generators live


def generator(seed):
    """A torch generator on the peer's device (a CPU generator cannot feed CUDA tensors)."""
    return torch.Generator(device=DEVICE).manual_seed(seed)


# ---------------------------------------------------------------------------------------------
# hnet's counter-based generator (kernels/random.hpp), used only by --validate to feed the peer
# hnet's own identity features, β draws, latent noise and inputs. Timed runs use torch's.
class HnetRandom:
    IDENTITY, INPUTS, NOISE, BETA = 1, 2, 3, 5  # kernels::Purpose

    def __init__(self):
        import numpy as np
        self.np = np

    def tensor(self, a):
        """float32 as hnet rounds its draws (float64 under --float64)."""
        a = self.np.asarray(a, dtype=self.np.float64)
        if torch.get_default_dtype() == torch.float32:
            a = a.astype(self.np.float32)
        return torch.from_numpy(a)

    def _u(self, x):
        return self.np.asarray(x, dtype=self.np.uint64)

    def mix64(self, z):
        u = self._u
        z = z + u(0x9E3779B97F4A7C15)
        z = (z ^ (z >> u(30))) * u(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u(27))) * u(0x94D049BB133111EB)
        return z ^ (z >> u(31))

    def combine(self, h, v):
        return self.mix64(h ^ self.mix64(self._u(v) ^ self._u(0xD1B54A32D192ED03)))

    def key(self, seed, purpose, a=0, b=0, c=0):
        with self.np.errstate(over="ignore"):
            h = self.mix64(self._u(seed))
            for v in (purpose, a, b, c):
                h = self.combine(h, v)
        return h

    def uniform01(self, key, element):
        with self.np.errstate(over="ignore"):
            bits = self.combine(self._u(key), self._u(element))
        return ((bits >> self._u(11)).astype(self.np.float64) + 0.5) * 2.0 ** -53

    def normal(self, key, element):
        e = self._u(element)
        u1, u2 = self.uniform01(key, 2 * e), self.uniform01(key, 2 * e + self._u(1))
        return self.np.sqrt(-2.0 * self.np.log(u1)) * self.np.cos(6.283185307179586476925286766559 * u2)


# ---------------------------------------------------------------------------------------------
# Parameter table: name, shape, offset and initial value of every tensor of one flat vector.
class Table:
    def __init__(self):
        self.tensors = []  # (name, shape, offset, init, a, b)
        self.size = 0

    def add(self, name, shape, init, a=0.0, b=0.0):
        count = 1
        for s in shape:
            count *= s
        self.tensors.append((name, tuple(shape), self.size, init, a, b))
        self.size += count
        return self.size - count

    def sizes(self):
        return [math.prod(t[1]) for t in self.tensors]

    def offsets(self):
        return [t[2] for t in self.tensors]

    def layernorm(self, name, dim):
        return (self.add(name + ".gain", [dim], "ones"), self.add(name + ".bias", [dim], "zeros"), dim)

    def linear(self, name, fan_in, fan_out, bias=True):
        w = self.add(name + ".weight", [fan_in, fan_out], "uniform", 1.0 / math.sqrt(fan_in))
        b = self.add(name + ".bias", [fan_out], "zeros") if bias else None
        return {"w": w, "b": b, "in": fan_in, "out": fan_out}

    def initial(self, generator):
        v = torch.empty(self.size)  # the default dtype: float32 (float64 only for --validate --float64)
        for name, shape, off, init, a, b in self.tensors:
            count = 1
            for s in shape:
                count *= s
            part = v[off:off + count]
            if init == "zeros":
                part.zero_()
            elif init == "ones":
                part.fill_(1.0)
            elif init == "constant":
                part.fill_(a)
            elif init == "split":  # first half a, second half b (μ and ρ biases)
                part[:count // 2] = a
                part[count // 2:] = b
            elif init == "uniform":
                part.uniform_(-a, a, generator=generator)
            elif init == "normal":
                part.normal_(0.0, a, generator=generator)
            else:
                raise ValueError(init)
        return v


class Layout:
    """The tensors of P (model.md §5, in hypernet_layout.cpp's order) and of θ = [P₀ | U | φ-MLP]."""

    def __init__(self, c):
        self.c = c
        d, dr = c["d"], c["identity_dim"]
        t = self.P = Table()
        self.enc_node_type = t.add("encoder.node_type", [3, d], "normal", 1.0)
        self.enc_edge_type = t.add("encoder.edge_type", [2, d], "normal", 1.0)
        self.enc_identity = t.linear("encoder.identity", dr, d, bias=False)
        self.encoder = [self._block(f"encoder.block{l}") for l in range(c["blocks"])]
        self.dec_node_type = t.add("decoder.node_type", [3, d], "normal", 1.0)
        self.dec_edge_type = t.add("decoder.edge_type", [2, d], "normal", 1.0)
        self.decoder, self.node_latents, self.edge_latents = [], [], []
        for l in range(c["blocks"]):
            self.decoder.append(self._block(f"decoder.block{l}"))
            self.node_latents.append(self._latent(f"decoder.latent{l}.nodes", dr))
            self.edge_latents.append(self._latent(f"decoder.latent{l}.edges", 2 * dr))
        r = self.readout = {}
        r["ln_w0"] = t.layernorm("readout.w0.ln", d)
        r["w0"] = t.linear("readout.w0", d, 1)
        r["ln_w1"] = t.layernorm("readout.w1.ln", d)
        r["w1"] = t.linear("readout.w1", d, 1)
        r["ln_b0"] = t.layernorm("readout.b0.ln", d)
        r["b0"] = t.linear("readout.b0", d, 1)
        r["ln_b1"] = t.layernorm("readout.b1.ln", d)
        r["b1"] = t.linear("readout.b1", d, 1, bias=False)
        target_mean = c["n"] * math.sqrt(2.0 / math.pi)  # E‖x‖₁ for x ~ N(0, I): the initial b1
        r["b1"]["b"] = t.add("readout.b1.bias", [1], "constant", target_mean)
        if c["readout"] == "edge_bilinear":
            r["ln_bil"] = t.layernorm("readout.bilinear.ln", d)
            r["bil_a"] = t.linear("readout.bilinear.a", d, d, bias=False)
            r["bil_b"] = t.linear("readout.bilinear.b", d, d, bias=False)
        r["gamma"] = t.add("readout.gamma_w0", [1], "zeros")
        m = c["n"] * c["hidden_ratio"]
        t.add("readout.gamma_w1", [1], "constant", math.log(1.0 / math.sqrt(m)))
        t.add("readout.gamma_b0", [1], "zeros")
        t.add("readout.gamma_b1", [1], "zeros")

        p, dphi, h = t.size, c["phi_dim"], c["phi_hidden"]
        th = self.theta = Table()
        self.theta_p0 = th.add("P0", [p], "zeros")  # filled from the P table
        self.theta_u = th.add("U", [p, dphi], "uniform", c["u_init"])
        self.phi = [th.linear("phi.mlp1", 1, h), th.linear("phi.mlp2", h, h), th.linear("phi.mlp3", h, dphi)]

    def _block(self, name):
        d, t = self.c["d"], self.P
        return {
            "ln_edge": t.layernorm(name + ".edge.ln", 3 * d),
            "edge_mlp1": t.linear(name + ".edge.mlp1", 3 * d, 2 * d),
            "edge_mlp2": t.linear(name + ".edge.mlp2", 2 * d, d),
            "ln_q": t.layernorm(name + ".attn.ln_q", d),
            "ln_k": t.layernorm(name + ".attn.ln_k", d),
            "directions": t.add(name + ".attn.directions", [2, d], "normal", 1.0),
            "a_q": t.linear(name + ".attn.q", d, d),
            "a_k": t.linear(name + ".attn.k", d, d),
            "a_v": t.linear(name + ".attn.v", d, d),
            "a_o": t.linear(name + ".attn.o", d, d),
            "ln_node": t.layernorm(name + ".node.ln", d),
            "node_mlp1": t.linear(name + ".node.mlp1", d, 2 * d),
            "node_mlp2": t.linear(name + ".node.mlp2", 2 * d, d),
        }

    def _latent(self, name, identity_in):
        c, t = self.c, self.P
        d, k = c["d"], c["latent"]
        rho0 = c["rho_bias_init"] if c["sigma"] == "bounded" else 0.0
        o = {"ln_post": t.layernorm(name + ".post.ln", 2 * d), "post": t.linear(name + ".post", 2 * d, 2 * k, bias=False)}
        o["post"]["b"] = t.add(name + ".post.bias", [2 * k], "split", 0.0, rho0)
        o["identity"] = t.linear(name + ".identity", identity_in, 2 * k, bias=False) if c["posterior_identity"] else None
        if c["prior"] == "learned":
            o["ln_prior"] = t.layernorm(name + ".prior.ln", d)
            o["prior"] = t.linear(name + ".prior", d, 2 * k, bias=False)
            o["prior"]["b"] = t.add(name + ".prior.bias", [2 * k], "split", 0.0, rho0)
        o["inject"] = t.linear(name + ".inject", k, d)
        return o

    def initial_theta(self, seed):
        g = generator(seed)
        theta = self.theta.initial(g)
        theta[self.theta_p0:self.theta_p0 + self.P.size] = self.P.initial(g)
        return theta


# ---------------------------------------------------------------------------------------------
# The graph G(n, m) of model.md §3, as index tensors.
class Graph:
    def __init__(self, n, m):
        self.n, self.m, self.N, self.E = n, m, n + m + 1, n * m + m
        src, tgt, etype = [], [], []
        for i in range(n):
            for j in range(m):
                src.append(i), tgt.append(n + j), etype.append(0)
        for j in range(m):
            src.append(n + j), tgt.append(n + m), etype.append(1)
        ntype = [0] * n + [1] * m + [2]
        # Incidences: every node sees every edge touching it, with the direction relative to it
        # (0: the edge points into the node, 1: out of it), grouped by node.
        touching = [[] for _ in range(self.N)]
        for e in range(self.E):
            touching[src[e]].append(e)
            touching[tgt[e]].append(e)
        inc_node, inc_edge, inc_other, inc_dir = [], [], [], []
        for v in range(self.N):
            for e in touching[v]:
                incoming = tgt[e] == v
                inc_node.append(v), inc_edge.append(e)
                inc_other.append(src[e] if incoming else tgt[e]), inc_dir.append(0 if incoming else 1)
        L = lambda x: torch.tensor(x, dtype=torch.long)
        self.src, self.tgt, self.edge_type, self.node_type = L(src), L(tgt), L(etype), L(ntype)
        self.inc_node, self.inc_edge, self.inc_other, self.inc_dir = L(inc_node), L(inc_edge), L(inc_other), L(inc_dir)


# ---------------------------------------------------------------------------------------------
class Peer:
    def __init__(self, c, seed=1, hnet_random=None):
        self.c = c
        self.hr = hnet_random  # draw everything as hnet does (--validate)
        self.seed, self.step_index = seed, 0
        self.L = Layout(c)
        self.n, self.m = c["n"], c["n"] * c["hidden_ratio"]
        self.B, self.S = c["batch_beta"], c["batch_x"]
        self.d, self.H, self.k = c["d"], c["heads"], c["latent"]
        self.g = Graph(self.n, self.m)
        self.gen = generator(seed + 1000)
        # Identity features r_v (model.md §4): fixed normal vectors, seen by the encoder and the
        # posterior's identity route; edges carry [r_s ; r_t].
        if self.hr is None:
            r = torch.randn(self.g.N, c["identity_dim"], generator=generator(seed + 2000))
        else:  # keyed by (identity seed, node type, index within type, component)
            np, hr = self.hr.np, self.hr
            ntype = self.g.node_type.numpy()
            index = np.concatenate([np.arange(self.n), np.arange(self.m), np.arange(1)])
            keys = np.array([hr.key(c.get("identity_seed", 1), hr.IDENTITY, int(t), int(i)) for t, i in zip(ntype, index)])
            r = hr.tensor(hr.normal(keys[:, None], np.arange(c["identity_dim"])[None, :]))
        self.r_nodes = r.expand(self.B, -1, -1).contiguous()
        self.r_edges = torch.cat([r[self.g.src], r[self.g.tgt]], 1).expand(self.B, -1, -1).contiguous()
        self.flops = 0.0  # hnet's counted FLOP model (Model::forward_flops), forward only

    # ---- views into P (B × p): one tensor per network ----
    # P is cut into its tensors by one split, whose backward is one concatenation: slicing P
    # tensor by tensor would make autograd add a zero-padded B × p gradient per tensor.
    def T(self, off, *shape):
        return self.P_parts[off].view(self.B, *shape)

    def linear(self, x, o, with_bias=True):
        self.flops += 2.0 * self.B * x.shape[1] * o["in"] * o["out"]
        w = self.T(o["w"], o["in"], o["out"])
        if with_bias and o["b"] is not None:
            return torch.baddbmm(self.T(o["b"], 1, o["out"]), x, w)
        return torch.bmm(x, w)

    def layernorm(self, x, o):
        gain, bias, dim = o
        y = F.layer_norm(x, (dim,), eps=LAYERNORM_EPS)
        return torch.addcmul(self.T(bias, 1, dim), y, self.T(gain, 1, dim))

    # ---- graph-transformer block (model.md §5.1) ----
    def block(self, o, h, e):
        g, B, d, H = self.g, self.B, self.d, self.H
        # 1. edge update
        x = torch.cat([e, h.index_select(1, g.src), h.index_select(1, g.tgt)], 2)
        e = e + self.linear(F.silu(self.linear(self.layernorm(x, o["ln_edge"]), o["edge_mlp1"])), o["edge_mlp2"])
        # 2. edge-aware attention. A_k, A_v are linear, so keys and values are projected on nodes,
        #    edges and the two direction vectors, then summed per incidence (as hnet does).
        xq, yk = self.layernorm(h, o["ln_q"]), self.layernorm(e, o["ln_k"])
        q = self.linear(xq, o["a_q"])
        kx, vx = self.linear(xq, o["a_k"], False), self.linear(xq, o["a_v"], False)
        ky, vy = self.linear(yk, o["a_k"], False), self.linear(yk, o["a_v"], False)
        dirs = self.T(o["directions"], 2, d)
        kd, vd = self.linear(dirs, o["a_k"]), self.linear(dirs, o["a_v"])
        self.flops += 8.0 * B * 2 * g.E * d
        A = g.inc_node.numel()
        key = kx.index_select(1, g.inc_other) + ky.index_select(1, g.inc_edge) + kd.index_select(1, g.inc_dir)
        val = vx.index_select(1, g.inc_other) + vy.index_select(1, g.inc_edge) + vd.index_select(1, g.inc_dir)
        dh = d // H
        score = (q.index_select(1, g.inc_node) * key).view(B, A, H, dh).sum(3) * (1.0 / math.sqrt(dh))
        with torch.no_grad():  # the max only stabilises the softmax; it carries no gradient
            top = torch.full((B, g.N, H), -math.inf).scatter_reduce(
                1, g.inc_node.view(1, A, 1).expand(B, A, H), score, "amax", include_self=True)
        ex = torch.exp(score - top.index_select(1, g.inc_node))
        den = torch.zeros(B, g.N, H).index_add(1, g.inc_node, ex)
        alpha = ex / den.index_select(1, g.inc_node)
        att = torch.zeros(B, g.N, d).index_add(1, g.inc_node, (alpha.unsqueeze(3) * val.view(B, A, H, dh)).view(B, A, d))
        h = h + self.linear(att, o["a_o"])
        # 3. node MLP
        h = h + self.linear(F.silu(self.linear(self.layernorm(h, o["ln_node"]), o["node_mlp1"])), o["node_mlp2"])
        return h, e

    # ---- latent channel (model.md §5.3), bounded σ and standard prior (the reference) ----
    def latent(self, o, state, encoded, identity, level):
        k, sp = self.k, self.c["prior_scale"]
        post = self.linear(self.layernorm(torch.cat([state, encoded], 2), o["ln_post"]), o["post"])
        if o["identity"] is not None:
            post = post + self.linear(identity, o["identity"])
        mu, rho = post[:, :, :k], post[:, :, k:]
        if self.c["sigma"] == "bounded":
            sigma, s = sp * torch.sigmoid(rho), sp
            log_sigma = math.log(sp) - F.softplus(-rho)
        else:
            sigma, s = F.softplus(rho) + 1e-4, 1.0
            log_sigma = torch.log(sigma)
        if self.hr is None:
            eps = torch.randn(mu.shape, generator=self.gen)
        else:  # key (run seed, step, network, level), element row·k + component
            np, hr = self.hr.np, self.hr
            keys = np.array([hr.key(self.seed, hr.NOISE, self.step_index, b, level) for b in range(self.B)])
            rows = mu.shape[1]
            eps = hr.tensor(hr.normal(keys[:, None], np.arange(rows * k)[None, :])).view(mu.shape)
        z = mu + sigma * eps
        kl = (math.log(s) - log_sigma + (sigma * sigma + mu * mu) / (2 * s * s) - 0.5).sum((1, 2))
        return state + self.linear(z, o["inject"]), kl

    # ---- one forward: θ → P(β) → networks → L, D_KL → J ----
    def forward(self, theta, log10_beta):
        c, L, g, B, n, m, d = self.c, self.L, self.g, self.B, self.n, self.m, self.d
        p, dphi = L.P.size, c["phi_dim"]
        self.flops = 2.0 * B * p * dphi
        lo, hi = c["log10_beta_min"], c["log10_beta_max"]
        u = (2.0 * (log10_beta - lo) / (hi - lo) - 1.0).view(B, 1)
        parts = dict(zip(L.theta.offsets(), theta.split(L.theta.sizes())))  # θ = [P₀ | U | φ-MLP]
        Q = lambda o, i, j: parts[o].view(i, j)
        l1, l2, l3 = L.phi
        a = F.silu(torch.addmm(Q(l1["b"], 1, l1["out"]), u, Q(l1["w"], 1, l1["out"])))
        a = F.silu(torch.addmm(Q(l2["b"], 1, l2["out"]), a, Q(l2["w"], l2["in"], l2["out"])))
        phi = torch.addmm(Q(l3["b"], 1, l3["out"]), a, Q(l3["w"], l3["in"], l3["out"]))
        P0 = parts[L.theta_p0]
        U = parts[L.theta_u].view(p, dphi)
        P = torch.addmm(P0.view(1, p), phi, U.t())  # P(β) = P₀ + U φ(β): one GEMM
        self.P_parts = dict(zip(L.P.offsets(), P.split(L.P.sizes(), 1)))

        # Encoder (posterior path).
        h = self.T(L.enc_node_type, 3, d).index_select(1, g.node_type)
        h = h + self.linear(self.r_nodes, L.enc_identity)
        e = self.T(L.enc_edge_type, 2, d).index_select(1, g.edge_type)
        encoded = []
        for o in L.encoder:
            h, e = self.block(o, h, e)
            encoded.append((h, e))
        # Decoder (generative path) with a latent channel after every block.
        h = self.T(L.dec_node_type, 3, d).index_select(1, g.node_type)
        e = self.T(L.dec_edge_type, 2, d).index_select(1, g.edge_type)
        kl = 0.0
        for l, o in enumerate(L.decoder):
            h, e = self.block(o, h, e)
            h, kl_h = self.latent(L.node_latents[l], h, encoded[l][0], self.r_nodes, 2 * l)
            e, kl_e = self.latent(L.edge_latents[l], e, encoded[l][1], self.r_edges, 2 * l + 1)
            kl = kl + kl_h + kl_e
        # Read-out (model.md §5.4).
        r = L.readout
        raw_w0 = self.linear(self.layernorm(e[:, :n * m], r["ln_w0"]), r["w0"]).view(B, n, m)
        raw_w1 = self.linear(self.layernorm(e[:, n * m:], r["ln_w1"]), r["w1"]).view(B, m)
        raw_b0 = self.linear(self.layernorm(h[:, n:n + m], r["ln_b0"]), r["b0"]).view(B, m)
        raw_b1 = self.linear(self.layernorm(h[:, n + m:], r["ln_b1"]), r["b1"]).view(B)
        gamma = torch.exp(torch.cat([self.T(r["gamma"] + i, 1) for i in range(4)], 1))  # γ_w0, γ_w1, γ_b0, γ_b1
        if "bil_a" in r:
            hb = self.layernorm(h, r["ln_bil"])
            A, Bv = self.linear(hb, r["bil_a"], False), self.linear(hb, r["bil_b"], False)
            raw_w0 = raw_w0 + torch.bmm(A[:, :n], Bv[:, n:n + m].transpose(1, 2)) * (1.0 / math.sqrt(d))
        W0 = gamma[:, 0].view(B, 1, 1) * raw_w0
        W1 = gamma[:, 1].view(B, 1) * raw_w1
        b0 = gamma[:, 2].view(B, 1) * raw_b0
        b1 = gamma[:, 3] * raw_b1

        # The generated networks on fresh inputs (model.md §1–§2) and the objective (§7).
        S = self.S
        if self.hr is None:
            x = torch.randn(B, S, n, generator=self.gen)
            y = x.abs().sum(2)
        else:  # key (run seed, step, network), element sample·n + i; targets summed in double
            np, hr = self.hr.np, self.hr
            keys = np.array([hr.key(self.seed, hr.INPUTS, self.step_index, b) for b in range(B)])
            xd = hr.normal(keys[:, None], np.arange(S * n)[None, :]).astype(np.float32).reshape(B, S, n)
            x = hr.tensor(xd)
            y = hr.tensor(np.abs(xd.astype(np.float64)).sum(2))
        z = torch.baddbmm(b0.view(B, 1, m), x, W0)
        f = torch.bmm(F.silu(z), W1.view(B, m, 1)).view(B, S) + b1.view(B, 1)
        self.flops += 2.0 * B * S * n * m + 8.0 * B * S * m
        loss = ((f - y) ** 2).mean(1)
        beta = torch.pow(10.0, log10_beta)
        J = torch.log(loss + beta * kl).mean()
        return J, loss, kl


def learning_rate(c, step):
    if step < c["warmup_steps"]:
        return c["lr"] * (step + 1) / c["warmup_steps"]
    span = max(1, c["total_steps"] - c["warmup_steps"])
    progress = min(1.0, (step - c["warmup_steps"]) / span)
    return c["lr"] * (c["lr_final_fraction"] + (1 - c["lr_final_fraction"]) * 0.5 * (1 + math.cos(math.pi * progress)))


def beta_upper(c, step):
    lo, hi = c["log10_beta_min"], c["log10_beta_max"]
    if not c["beta_curriculum"]:
        return hi
    start = min(hi, lo + 1.0)
    if step < c["curriculum_hold_steps"]:
        return start
    progress = min(1.0, (step - c["curriculum_hold_steps"]) / c["curriculum_widen_steps"])
    return start + (hi - start) * progress


def validate(path):
    """Step 0 of an `hnet train` run, recomputed by the peer from the same θ and random numbers."""
    import h5py
    import numpy as np
    import tomllib
    with h5py.File(path, "r") as f:
        text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
        deck = tomllib.loads(text(f.attrs["deck"]))
        seed = int(f.attrs["seed"])
        # Saved models are files of their own: <output.dir>/models/<job>/step_<N>.h5.
        models = os.path.join(os.path.dirname(os.path.abspath(path)), "models", text(f.attrs["job"]))
        with h5py.File(os.path.join(models, "step_0.h5"), "r") as m:
            theta0 = torch.from_numpy(m["theta"][:].astype(np.float32)).to(torch.get_default_dtype())
        step1 = os.path.join(models, "step_1.h5")
        theta1 = None
        if os.path.exists(step1):
            with h5py.File(step1, "r") as m:
                theta1 = m["theta"][:].astype(np.float32)
        h = {k: f["history/" + k][0] for k in ("objective", "grad_norm", "network_loss", "network_kl",
                                                 "network_log10_beta")}
    md, tr, tg = deck["model"], deck["train"], deck["target"]
    c = dict(COMMON)
    c.update({k: md[k] for k in ("d", "heads", "blocks", "latent", "identity_dim", "phi_hidden", "phi_dim", "readout",
                                 "sigma", "prior", "prior_scale", "rho_bias_init", "u_init", "posterior_identity",
                                 "identity_seed")})
    c.update({k: tr[k] for k in ("batch_beta", "batch_x", "log10_beta_min", "log10_beta_max", "lr", "warmup_steps",
                                 "lr_final_fraction", "clip_norm", "adam_beta1", "adam_beta2", "adam_eps",
                                 "beta_curriculum", "curriculum_hold_steps", "curriculum_widen_steps")})
    c.update(n=tg["n"], hidden_ratio=tg["hidden_ratio"], total_steps=tr["steps"])
    if (md["prior"], md["identity_scale"], tr["objective"], tr["kl_warmup_steps"], deck["task"]["input"],
            deck["task"]["target"]) != ("standard", 1.0, "log_sum", 0, "normal", "l1"):
        raise SystemExit("--validate covers the reference prior, objective, task and identity scale only")
    hr = HnetRandom()
    peer = Peer(c, seed, hnet_random=hr)
    if peer.L.theta.size != theta0.numel():
        raise SystemExit(f"θ sizes differ: peer {peer.L.theta.size}, hnet {theta0.numel()}")
    key = hr.key(seed, hr.BETA, 0)
    lb = c["log10_beta_min"] + (beta_upper(c, 0) - c["log10_beta_min"]) * hr.uniform01(key, np.arange(c["batch_beta"]))
    theta = theta0.clone().requires_grad_(True)
    J, loss, kl = peer.forward(theta, hr.tensor(lb))
    J.backward()
    norm = float(theta.grad.norm())
    opt = torch.optim.Adam([theta], lr=learning_rate(c, 0), betas=(c["adam_beta1"], c["adam_beta2"]), eps=c["adam_eps"])
    torch.nn.utils.clip_grad_norm_([theta], c["clip_norm"])
    opt.step()
    rel = lambda a, b: float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b) / np.maximum(np.abs(b), 1e-30)))
    print(f"# validate against {path} (peer in {str(torch.get_default_dtype())[6:]}): config d={c['d']} "
          f"blocks={c['blocks']} latent={c['latent']} "
          f"B_beta={c['batch_beta']} B_x={c['batch_x']} n={c['n']}, run seed {seed}")
    print(f"  log10 beta draws: max |peer - hnet| = {np.max(np.abs(lb - h['network_log10_beta'])):.3g}")
    print(f"  per-network loss L: max relative difference {rel(loss.detach().numpy(), h['network_loss']):.3g} "
          f"(hnet mean {np.mean(h['network_loss']):.6g}, peer {float(loss.mean()):.6g})")
    print(f"  per-network D_KL:   max relative difference {rel(kl.detach().numpy(), h['network_kl']):.3g} "
          f"(hnet mean {np.mean(h['network_kl']):.6g}, peer {float(kl.mean()):.6g})")
    print(f"  objective J: hnet {h['objective']:.7g}, peer {float(J):.7g}; gradient norm: hnet {h['grad_norm']:.7g}, "
          f"peer {norm:.7g} (relative difference {abs(norm - h['grad_norm']) / h['grad_norm']:.3g})")
    if theta1 is not None:
        t0 = theta0.numpy()
        du_h, du_p = theta1 - t0, theta.detach().numpy() - t0
        scale = np.max(np.abs(du_h))
        agree = np.mean(np.abs(du_p - du_h) <= 0.01 * scale)
        print(f"  Adam update of step 0: max |update| hnet {scale:.3g}, peer {np.max(np.abs(du_p)):.3g}; "
              f"{100 * agree:.2f}% of the {t0.size} entries of θ agree within 1% of that")


def main():
    global DEVICE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="quick")
    ap.add_argument("--steps", type=int, default=30, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cpu",
                    help="torch device for the timed run, e.g. cuda (needs torch >= 2.0; not with --validate)")
    ap.add_argument("--table", action="store_true", help="print the P and θ tables as JSON and exit")
    ap.add_argument("--profile", action="store_true", help="after timing, profile one step (torch.profiler)")
    ap.add_argument("--validate", metavar="RESULTS_H5",
                    help="check the peer against hnet: take θ at step 0 from an `hnet train` results file, draw "
                         "β, noise and inputs with hnet's generator, run step 0 and compare J, L, D_KL, |g| and θ "
                         "after the step with what hnet recorded")
    ap.add_argument("--float64", action="store_true",
                    help="with --validate: run the peer in float64, a reference for hnet's float32 numbers")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.device != "cpu":
        if args.validate:
            raise SystemExit("hnet_peer: --validate runs on the CPU only")
        DEVICE = args.device
        torch.set_default_device(DEVICE)
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 products, as hnet computes them
    if args.validate:
        if args.float64:
            torch.set_default_dtype(torch.float64)
        return validate(args.validate)
    c = dict(COMMON, **CONFIGS[args.config])
    peer = Peer(c, args.seed)
    L = peer.L
    p, theta_size = L.P.size, L.theta.size
    if args.table:
        json.dump({"P": [[t[0], list(t[1])] for t in L.P.tensors],
                   "theta": [[t[0], list(t[1])] for t in L.theta.tensors], "p": p, "theta_size": theta_size},
                  sys.stdout)
        print()
        return

    theta = L.initial_theta(args.seed).requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=c["lr"], betas=(c["adam_beta1"], c["adam_beta2"]), eps=c["adam_eps"])
    gen = generator(args.seed + 3000)

    def step(s):
        lb = c["log10_beta_min"] + (beta_upper(c, s) - c["log10_beta_min"]) * torch.rand(c["batch_beta"], generator=gen)
        theta.grad = None
        J, loss, kl = peer.forward(theta, lb)
        J.backward()
        norm = torch.nn.utils.clip_grad_norm_([theta], c["clip_norm"])
        for group in opt.param_groups:
            group["lr"] = learning_rate(c, s)
        opt.step()
        return float(J), float(loss.mean()), float(kl.mean()), float(norm)

    print(f"# hnet peer (PyTorch {torch.__version__}, {torch.get_num_threads()} threads, device {DEVICE}): config {args.config} "
          f"n={peer.n} m={peer.m} d={peer.d} heads={peer.H} blocks={c['blocks']} latent={peer.k} "
          f"B_beta={peer.B} B_x={peer.S}")
    print(f"# p={p} theta={theta_size}")
    sys.stdout.flush()
    t_start = time.perf_counter()
    for s in range(args.warmup):
        step(s)
    t_warm = time.perf_counter()
    times = []
    for s in range(args.warmup, args.warmup + args.steps):
        t0 = time.perf_counter()
        J, loss, kl, norm = step(s)
        times.append(time.perf_counter() - t0)
    total = sum(times)
    flops_step = 3.0 * peer.flops
    med = sorted(times)[len(times) // 2]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"# warm-up {args.warmup} steps {t_warm - t_start:.2f}s; last step J={J:.5g} loss={loss:.5g} kl={kl:.5g} "
          f"|g|={norm:.3g}; median step {med * 1e3:.1f} ms; peak RSS {rss_mb:.0f} MB")
    print(f"PEER steps/s={args.steps / total:.4f} ms/step={1e3 * total / args.steps:.2f} median_ms={1e3 * med:.2f} "
          f"GFLOP/s={flops_step * args.steps / total * 1e-9:.3f} flops/step={flops_step:.6g} p={p} theta={theta_size} "
          f"config={args.config} threads={torch.get_num_threads()} device={DEVICE}")
    sys.stdout.flush()

    if args.profile:
        from torch.profiler import profile, ProfilerActivity
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(args.warmup + args.steps)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
