#!/usr/bin/env python3
"""Measure the microbenchmark table that `pertoken calibrate --table` fits a performance profile to.

The output has exactly the format of calibration/h200-microbench.json (see calibration/README):

  meta               where and how it was measured (device, torch version, timing method, ...)
  copy_bandwidth     one large device-to-device copy; bytes read + written per second
  gemm_square_bf16   one n x n x n bf16 matrix product (n = 8192)
  gemm_bf16.rows     F.linear(x[m,k], W[n,k]) for the Llama-3.1 8B and 70B projections at
                     tensor-parallel degree 1 (qkv fused, gate_up fused, lm_head), m = 1..16384
  gemm_fp8           torch._scaled_mm, e4m3 inputs, tensor-wise scales, bf16 output (8B shapes
                     and 8192^3); left out, with a note in meta.skipped, where fp8 is unsupported
  attention_decode   SDPA, one query token per sequence over a dense KV cache, 32q/8kv/128,
                     batch x context grid; kv_bytes = K+V bytes read
  attention_prefill  causal SDPA, batch 1, lengths 512..32768; tflops count the causal half

Timing: each time is the median of --iters timed calls after --warmups warm-ups. On a GPU each
call is timed with CUDA events around that one call after a synchronize, so each small kernel's
time includes the launch gap, as in the reference table; weights (and small KV caches) rotate
among up to 4 copies so that small matrices do not sit in the L2 cache. On the CPU the timer is
time.perf_counter.

Devices: --device cuda (NVIDIA; AMD ROCm builds of PyTorch also use torch.cuda), --device cpu
(use --quick: tiny shapes, for tests and CI), --device tpu (JAX, on the first TPU; also
--backend jax with --device cpu|cuda to run the JAX path elsewhere).

Standard library + torch only (JAX only with --backend jax / --device tpu); no network.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

PROFILER = "tools/profile-accelerator.py"

# ---------------------------------------------------------------------------------------------
# shapes


@dataclass(frozen=True)
class Layer:
    model: str
    layer: str
    n: int
    k: int


FULL_LAYERS: list[Layer] = [
    Layer("llama-3.1-8b", "qkv", 6144, 4096),
    Layer("llama-3.1-8b", "o", 4096, 4096),
    Layer("llama-3.1-8b", "gate_up", 28672, 4096),
    Layer("llama-3.1-8b", "down", 4096, 14336),
    Layer("llama-3.1-8b", "lm_head", 128256, 4096),
    Layer("llama-3.1-70b", "qkv", 10240, 8192),
    Layer("llama-3.1-70b", "o", 8192, 8192),
    Layer("llama-3.1-70b", "gate_up", 57344, 8192),
    Layer("llama-3.1-70b", "down", 8192, 28672),
]
FULL_M = [1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
FULL_FP8_M = [16, 64, 256, 1024, 4096, 16384]
FULL_DECODE = [
    (1, 1024), (1, 8192), (1, 32768), (1, 131072),
    (8, 1024), (8, 8192), (8, 32768),
    (32, 1024), (32, 4096), (32, 16384),
    (128, 1024), (128, 4096), (128, 16384),
    (256, 2048),
]  # fmt: skip
FULL_PREFILL = [512, 2048, 8192, 32768]
FULL_SQUARE = 8192
FULL_COPY_BYTES = 2 << 30

# --quick: the 8B projections with every dimension divided by 32, a few m, a tiny attention grid
QUICK_DIV = 32
QUICK_LAYERS: list[Layer] = [
    Layer(f"llama-3.1-8b/{QUICK_DIV}", x.layer, x.n // QUICK_DIV, x.k // QUICK_DIV)
    for x in FULL_LAYERS
    if x.model == "llama-3.1-8b"
]
QUICK_M = [1, 4, 16, 64, 256]
QUICK_FP8_M = [16, 64, 256]
QUICK_DECODE = [(1, 64), (1, 512), (4, 64), (4, 512)]
QUICK_PREFILL = [64, 128, 256]
QUICK_SQUARE = 256
QUICK_COPY_BYTES = 16 << 20

Q_HEADS, KV_HEADS, HEAD_DIM = 32, 8, 128
HEADS_SPEC = f"{Q_HEADS}q/{KV_HEADS}kv/{HEAD_DIM}"
# attention implementations whose name reads "<impl> of one query token ..." as in the reference note
PLAIN_ATTENTION = ("torch SDPA (enable_gqa)", "jax.nn.dot_product_attention")
BF16 = 2  # bytes
MAX_COPIES = 4


def coarse_to_fine(n: int) -> list[int]:
    """Indices 0..n-1, ends first, then midpoints: a cut-short run keeps a coarse grid."""
    if n <= 0:
        return []
    order: list[int] = [0] if n == 1 else [0, n - 1]
    seen = set(order)
    spans = [(0, n - 1)]
    while spans:
        nxt: list[tuple[int, int]] = []
        for lo, hi in spans:
            if hi - lo < 2:
                continue
            mid = (lo + hi) // 2
            if mid not in seen:
                seen.add(mid)
                order.append(mid)
            nxt += [(lo, mid), (mid, hi)]
        spans = nxt
    return order + [i for i in range(n) if i not in seen]


def rotation_copies(nbytes: int, cache_bytes: int) -> int:
    """How many copies of an operand to rotate among so that the next call does not find it in
    cache: up to 4, enough for the copies together to be at least 3 x the cache."""
    if cache_bytes <= 0 or nbytes <= 0:
        return 1
    return max(1, min(MAX_COPIES, math.ceil(3 * cache_bytes / nbytes)))


# ---------------------------------------------------------------------------------------------
# time budget


class Unsupported(Exception):
    pass


@dataclass
class Budget:
    """Wall-clock budget shared out among sections; unused time rolls over to later ones."""

    total_s: Optional[float]
    weights: dict[str, float]
    start: float = field(default_factory=time.perf_counter)
    done: set[str] = field(default_factory=set)

    def section_deadline(self, name: str) -> Optional[float]:
        if self.total_s is None:
            return None
        now = time.perf_counter()
        left = self.total_s - (now - self.start)
        todo = sum(w for s, w in self.weights.items() if s not in self.done)
        share = self.weights.get(name, 0.0) / todo if todo > 0 else 1.0
        self.done.add(name)
        return now + max(0.0, left) * share


# ---------------------------------------------------------------------------------------------
# backends: prepare a case (allocate operands, return a closure), time it, free it


Case = Callable[[int], Any]  # call i uses operand copy i % copies


class Backend:
    name = "?"

    def meta(self) -> dict[str, Any]:
        raise NotImplementedError

    def cache_bytes(self) -> int:
        return 0

    def mem_bytes(self) -> int:
        return 0

    def copy_case(self, nbytes: int) -> Case:
        raise NotImplementedError

    def gemm_case(self, m: int, n: int, k: int, copies: int) -> Case:
        raise NotImplementedError

    def fp8_case(self, m: int, n: int, k: int, copies: int) -> Case:
        raise NotImplementedError

    def decode_case(self, batch: int, context: int, copies: int) -> Case:
        raise NotImplementedError

    def prefill_case(self, length: int) -> Case:
        raise NotImplementedError

    def sync(self, out: Any = None) -> None:
        raise NotImplementedError

    def time_one(self, fn: Case, i: int) -> float:
        """Seconds of one call."""
        self.sync()
        t0 = time.perf_counter()
        out = fn(i)
        self.sync(out)
        return time.perf_counter() - t0

    def release(self) -> None:
        pass

    def is_oom(self, err: BaseException) -> bool:
        return False

    def notes(self) -> dict[str, str]:
        return {}


class TorchBackend(Backend):
    def __init__(self, device: str, threads: Optional[int]) -> None:
        import torch  # noqa: PLC0415 (imported late so that --help works without torch)

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        if device == "cuda":
            if not torch.cuda.is_available():
                raise SystemExit(
                    "profile-accelerator: --device cuda but torch.cuda.is_available() is False "
                    f"(torch {torch.__version__}; is this a CPU-only build?)"
                )
            self.dev = torch.device("cuda", torch.cuda.current_device())
            self.props = torch.cuda.get_device_properties(self.dev)
        else:
            self.dev = torch.device("cpu")
            self.props = None
        self.is_cuda = device == "cuda"
        self.is_rocm = bool(getattr(torch.version, "hip", None))
        self.name = "rocm" if self.is_rocm and self.is_cuda else device
        self.sdpa: Any = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
        self.gqa_kw = self._sdpa_has_gqa()
        self.fp8_dtype: Any = None
        self.fp8_reason = ""
        self._attn_impl: dict[str, str] = {}

    # -- facts about the device

    def _sdpa_has_gqa(self) -> bool:
        if self.sdpa is None:
            return False
        try:
            t = self.torch
            q = t.zeros(1, 2, 1, 8, device=self.dev)
            kv = t.zeros(1, 1, 2, 8, device=self.dev)
            self.sdpa(q, kv, kv, enable_gqa=True)
            return True
        except (TypeError, RuntimeError):
            return False

    def device_name(self) -> str:
        if self.is_cuda:
            return str(self.torch.cuda.get_device_name(self.dev))
        return cpu_name()

    def cache_bytes(self) -> int:
        if self.props is not None:
            l2 = int(getattr(self.props, "L2_cache_size", 0) or 0)
            return l2 if l2 > 0 else 64 << 20
        return cpu_cache_bytes()

    def mem_bytes(self) -> int:
        if self.props is not None:
            return int(self.props.total_memory)
        return host_mem_bytes()

    def meta(self) -> dict[str, Any]:
        t = self.torch
        m: dict[str, Any] = {
            "torch": str(t.__version__),
            "cuda": bool(self.is_cuda),
            "device": self.device_name(),
        }
        if self.props is not None:
            m["sm_count"] = int(self.props.multi_processor_count)
            m["mem_gib"] = self.mem_bytes() / 2**30
            m["l2_bytes"] = self.cache_bytes()
            if self.is_rocm:
                m["hip"] = str(t.version.hip)
                arch = getattr(self.props, "gcnArchName", None)
                if arch:
                    m["gcn_arch"] = str(arch)
            else:
                m["cuda_version"] = str(t.version.cuda)
                m["capability"] = f"{self.props.major}.{self.props.minor}"
        else:
            m["cpu_threads"] = int(t.get_num_threads())
            m["mem_gib"] = self.mem_bytes() / 2**30
        return m

    # -- cases

    def _randn(self, *shape: int, scale: float = 1.0) -> Any:
        t = self.torch
        x = t.randn(*shape, device=self.dev, dtype=t.bfloat16)
        return x.mul_(scale) if scale != 1.0 else x

    def copy_case(self, nbytes: int) -> Case:
        t = self.torch
        src = t.empty(nbytes, dtype=t.uint8, device=self.dev).fill_(1)
        dst = t.empty_like(src)

        def run(_i: int) -> Any:
            return dst.copy_(src)

        return run

    def gemm_case(self, m: int, n: int, k: int, copies: int) -> Case:
        F = self.torch.nn.functional
        x = self._randn(m, k)
        ws = [self._randn(n, k, scale=k**-0.5) for _ in range(copies)]

        def run(i: int) -> Any:
            return F.linear(x, ws[i % copies])

        return run

    def _fp8_probe(self) -> None:
        """Find an e4m3 dtype that torch._scaled_mm accepts here, or say why not."""
        if self.fp8_dtype is not None or self.fp8_reason:
            return
        t = self.torch
        if not hasattr(t, "_scaled_mm"):
            self.fp8_reason = f"torch {t.__version__} has no torch._scaled_mm"
            return
        names = ["float8_e4m3fnuz", "float8_e4m3fn"] if self.is_rocm else ["float8_e4m3fn", "float8_e4m3fnuz"]
        errors = []
        for nm in names:
            dt = getattr(t, nm, None)
            if dt is None:
                continue
            try:
                a = t.zeros(16, 32, device=self.dev, dtype=t.bfloat16).to(dt)
                b = t.zeros(16, 32, device=self.dev, dtype=t.bfloat16).to(dt)
                one = t.ones((), device=self.dev, dtype=t.float32)
                self._scaled_mm(a, b.t(), one, one)
                self.fp8_dtype = dt
                return
            except Exception as e:  # noqa: BLE001 (any failure means: not here)
                errors.append(f"{nm}: {str(e).splitlines()[0][:160]}")
        self.fp8_reason = "fp8 (e4m3) torch._scaled_mm unsupported on this device" + (
            " (" + "; ".join(errors) + ")" if errors else f" (torch {t.__version__} has no float8 dtype)"
        )

    def _scaled_mm(self, a: Any, b: Any, sa: Any, sb: Any) -> Any:
        out = self.torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=self.torch.bfloat16)
        return out[0] if isinstance(out, tuple) else out  # torch 2.1-2.3 also returned amax

    def fp8_case(self, m: int, n: int, k: int, copies: int) -> Case:
        self._fp8_probe()
        if self.fp8_dtype is None:
            raise Unsupported(self.fp8_reason)
        t = self.torch
        x = self._randn(m, k).to(self.fp8_dtype)
        ws = [self._randn(n, k, scale=k**-0.5).to(self.fp8_dtype) for _ in range(copies)]
        sa = t.ones((), device=self.dev, dtype=t.float32)
        sb = t.ones((), device=self.dev, dtype=t.float32)

        def run(i: int) -> Any:
            # W[n,k] row-major transposed is the column-major [k,n] operand _scaled_mm wants
            return self._scaled_mm(x, ws[i % copies].t(), sa, sb)

        return run

    def decode_case(self, batch: int, context: int, copies: int) -> Case:
        t = self.torch
        q = self._randn(batch, Q_HEADS, 1, HEAD_DIM)
        kvs = [
            (self._randn(batch, KV_HEADS, context, HEAD_DIM), self._randn(batch, KV_HEADS, context, HEAD_DIM))
            for _ in range(copies)
        ]
        group = Q_HEADS // KV_HEADS
        if self.sdpa is not None and self.gqa_kw:
            self._attn_impl["decode"] = "torch SDPA (enable_gqa)"

            def run_gqa(i: int) -> Any:
                k, v = kvs[i % copies]
                return self.sdpa(q, k, v, enable_gqa=True)

            return run_gqa
        # One query token sees the whole context, so GQA is exact with the query heads of a group
        # stacked as query rows: [b, kv, group, d] against K, V [b, kv, ctx, d]; no KV repeat.
        qg = q.reshape(batch, KV_HEADS, group, HEAD_DIM)
        if self.sdpa is not None:
            self._attn_impl["decode"] = "torch SDPA with the query heads grouped per KV head (no enable_gqa)"

            def run_grouped(i: int) -> Any:
                k, v = kvs[i % copies]
                return self.sdpa(qg, k, v)

            return run_grouped
        self._attn_impl["decode"] = (
            "matmul-softmax-matmul with the query heads grouped per KV head "
            f"(torch {t.__version__} has no SDPA)"
        )
        scale = HEAD_DIM**-0.5

        def run_math(i: int) -> Any:
            k, v = kvs[i % copies]
            s = t.matmul(qg, k.transpose(-1, -2)).mul_(scale)
            return t.matmul(t.softmax(s, dim=-1), v)

        return run_math

    def prefill_case(self, length: int) -> Case:
        t = self.torch
        q = self._randn(1, Q_HEADS, length, HEAD_DIM)
        k = self._randn(1, KV_HEADS, length, HEAD_DIM)
        v = self._randn(1, KV_HEADS, length, HEAD_DIM)
        group = Q_HEADS // KV_HEADS
        if self.sdpa is not None and self.gqa_kw:
            self._attn_impl["prefill"] = "torch SDPA causal"

            def run_gqa(_i: int) -> Any:
                return self.sdpa(q, k, v, is_causal=True, enable_gqa=True)

            return run_gqa
        # older torch: K and V repeated to the query heads before the call (counted in the time)
        if self.sdpa is not None:
            self._attn_impl["prefill"] = (
                "torch SDPA causal with K/V repeated to the query heads in the timed call (no enable_gqa)"
            )

            def run_repeat(_i: int) -> Any:
                kk = k.repeat_interleave(group, dim=1)
                vv = v.repeat_interleave(group, dim=1)
                return self.sdpa(q, kk, vv, is_causal=True)

            return run_repeat
        self._attn_impl["prefill"] = (
            "causal masked matmul-softmax-matmul with K/V repeated to the query heads "
            f"(torch {t.__version__} has no SDPA)"
        )
        scale = HEAD_DIM**-0.5
        mask = t.ones(length, length, dtype=t.bool, device=self.dev).triu_(1)

        def run_math(_i: int) -> Any:
            kk = k.repeat_interleave(group, dim=1)
            vv = v.repeat_interleave(group, dim=1)
            s = t.matmul(q, kk.transpose(-1, -2)).mul_(scale).masked_fill_(mask, float("-inf"))
            return t.matmul(t.softmax(s, dim=-1), vv)

        return run_math

    # -- timing

    def sync(self, out: Any = None) -> None:
        if self.is_cuda:
            self.torch.cuda.synchronize(self.dev)

    def time_one(self, fn: Case, i: int) -> float:
        if not self.is_cuda:
            return super().time_one(fn, i)
        t = self.torch
        start = t.cuda.Event(enable_timing=True)
        end = t.cuda.Event(enable_timing=True)
        t.cuda.synchronize(self.dev)
        start.record()
        fn(i)
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end)) / 1e3

    def release(self) -> None:
        if self.is_cuda:
            self.torch.cuda.synchronize(self.dev)
            self.torch.cuda.empty_cache()

    def is_oom(self, err: BaseException) -> bool:
        oom = getattr(self.torch.cuda, "OutOfMemoryError", None)
        if oom is not None and isinstance(err, oom):
            return True
        msg = str(err).lower()
        return isinstance(err, (RuntimeError, MemoryError)) and (
            "out of memory" in msg or "can't allocate memory" in msg or isinstance(err, MemoryError)
        )

    def notes(self) -> dict[str, str]:
        return dict(self._attn_impl)


class JaxBackend(Backend):
    """The same measurements through JAX/XLA (for TPUs; also runs on JAX's CPU and GPU backends).
    Each call is timed with time.perf_counter around a jitted call and block_until_ready()."""

    def __init__(self, device: str) -> None:
        try:
            import jax  # noqa: PLC0415
            import jax.numpy as jnp  # noqa: PLC0415
        except ImportError as e:
            raise SystemExit(f"profile-accelerator: the JAX backend needs jax ({e})") from e
        self.jax = jax
        self.jnp = jnp
        platform_name = {"tpu": "tpu", "cuda": "gpu", "cpu": "cpu"}[device]
        try:
            self.dev = jax.devices(platform_name)[0]
        except RuntimeError as e:
            raise SystemExit(f"profile-accelerator: JAX finds no {platform_name} device ({e})") from e
        self.name = f"jax-{platform_name}"
        self._key = jax.random.PRNGKey(0)
        self._attn_impl: dict[str, str] = {}

    def device_name(self) -> str:
        kind = str(getattr(self.dev, "device_kind", "") or "")
        if self.dev.platform == "cpu":
            return cpu_name()
        return kind or str(self.dev)

    def mem_bytes(self) -> int:
        try:
            stats = self.dev.memory_stats() or {}
            return int(stats.get("bytes_limit", 0))
        except Exception:  # noqa: BLE001 (backends without memory_stats)
            return host_mem_bytes() if self.dev.platform == "cpu" else 0

    def cache_bytes(self) -> int:
        return cpu_cache_bytes() if self.dev.platform == "cpu" else 64 << 20

    def meta(self) -> dict[str, Any]:
        m: dict[str, Any] = {
            "jax": str(self.jax.__version__),
            "jax_platform": str(self.dev.platform),
            "cuda": False,
            "device": self.device_name(),
        }
        cores = getattr(self.dev, "num_cores", None)
        if cores:
            m["core_count"] = int(cores)
        mem = self.mem_bytes()
        if mem:
            m["mem_gib"] = mem / 2**30
        return m

    def _randn(self, *shape: int, scale: float = 1.0, dtype: Any = None) -> Any:
        jnp = self.jnp
        self._key, sub = self.jax.random.split(self._key)
        x = self.jax.random.normal(sub, shape, dtype=jnp.float32) * scale
        return self.jax.device_put(x.astype(dtype or jnp.bfloat16), self.dev)

    def copy_case(self, nbytes: int) -> Case:
        jnp = self.jnp
        src = self.jax.device_put(jnp.ones((nbytes // 4,), dtype=jnp.float32), self.dev)
        f = self.jax.jit(lambda a: a + 0)  # one read and one write of every byte

        def run(_i: int) -> Any:
            return f(src)

        return self._compiled(run)

    def gemm_case(self, m: int, n: int, k: int, copies: int) -> Case:
        jnp = self.jnp
        x = self._randn(m, k)
        ws = [self._randn(n, k, scale=k**-0.5) for _ in range(copies)]
        f = self.jax.jit(lambda a, w: jnp.matmul(a, w.T))

        def run(i: int) -> Any:
            return f(x, ws[i % copies])

        return self._compiled(run)

    def fp8_case(self, m: int, n: int, k: int, copies: int) -> Case:
        raise Unsupported("fp8 GEMMs are not measured by the JAX backend")

    def _attention(self, q: Any, k: Any, v: Any, causal: bool, what: str) -> Callable[..., Any]:
        jax, jnp = self.jax, self.jnp
        dpa = getattr(jax.nn, "dot_product_attention", None)
        if dpa is not None:
            self._attn_impl[what] = "jax.nn.dot_product_attention" + (" (causal)" if causal else "")
            return jax.jit(lambda a, b, c: dpa(a, b, c, is_causal=causal))
        self._attn_impl[what] = "einsum-softmax-einsum" + (" (causal mask)" if causal else "")
        group = Q_HEADS // KV_HEADS

        def attn(a: Any, b: Any, c: Any) -> Any:  # [B, T, N, H], [B, S, K, H]
            bsz, tq = a.shape[0], a.shape[1]
            a5 = a.reshape(bsz, tq, KV_HEADS, group, HEAD_DIM)
            s = jnp.einsum("btkgh,bskh->bkgts", a5, b) * (HEAD_DIM**-0.5)
            if causal:
                mask = jnp.tril(jnp.ones((tq, b.shape[1]), dtype=bool))
                s = jnp.where(mask, s, -jnp.inf)
            p = jax.nn.softmax(s.astype(jnp.float32), axis=-1).astype(c.dtype)
            return jnp.einsum("bkgts,bskh->btkgh", p, c).reshape(bsz, tq, Q_HEADS, HEAD_DIM)

        return jax.jit(attn)

    def decode_case(self, batch: int, context: int, copies: int) -> Case:
        q = self._randn(batch, 1, Q_HEADS, HEAD_DIM)
        kvs = [
            (self._randn(batch, context, KV_HEADS, HEAD_DIM), self._randn(batch, context, KV_HEADS, HEAD_DIM))
            for _ in range(copies)
        ]
        f = self._attention(q, kvs[0][0], kvs[0][1], False, "decode")

        def run(i: int) -> Any:
            k, v = kvs[i % copies]
            return f(q, k, v)

        return self._compiled(run)

    def prefill_case(self, length: int) -> Case:
        q = self._randn(1, length, Q_HEADS, HEAD_DIM)
        k = self._randn(1, length, KV_HEADS, HEAD_DIM)
        v = self._randn(1, length, KV_HEADS, HEAD_DIM)
        f = self._attention(q, k, v, True, "prefill")

        def run(_i: int) -> Any:
            return f(q, k, v)

        return self._compiled(run)

    @staticmethod
    def _compiled(run: Case) -> Case:
        """Call once so that XLA's compile is not in the first warm-up's time estimate."""
        run(0).block_until_ready()
        return run

    def sync(self, out: Any = None) -> None:
        if out is not None:
            out.block_until_ready()

    def is_oom(self, err: BaseException) -> bool:
        msg = str(err).lower()
        return "resource_exhausted" in msg or "out of memory" in msg

    def notes(self) -> dict[str, str]:
        return dict(self._attn_impl)


# ---------------------------------------------------------------------------------------------
# host facts (standard library only)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_cache_bytes() -> int:
    """Largest CPU cache level (the L3 usually), from sysfs; 32 MiB when unknown."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for idx in os.listdir(base):
            try:
                with open(os.path.join(base, idx, "size"), encoding="utf-8") as f:
                    s = f.read().strip().upper()
                mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
                best = max(best, int(s.rstrip("KMG")) * mult)
            except (OSError, ValueError):
                continue
    except OSError:
        pass
    return best or 32 << 20


def host_mem_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def smi_snapshot(rocm: bool) -> Optional[str]:
    """Clocks and power limit after the run, as the reference table records them."""
    if not rocm and shutil.which("nvidia-smi"):
        try:
            r = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=clocks.sm,clocks.mem,power.limit",
                    "--format=csv,noheader,nounits",
                    "-i",
                    os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or "0",
                ],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            )
            sm, mem, pwr = [s.strip() for s in r.stdout.strip().splitlines()[0].split(",")]
            return f"SM {sm} MHz, memory {mem} MHz, power limit {float(pwr):.0f} W"
        except (subprocess.SubprocessError, OSError, ValueError, IndexError):
            return None
    if rocm and shutil.which("rocm-smi"):
        try:
            r = subprocess.run(
                ["rocm-smi", "--showclocks", "--showmaxpower"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            lines = [ln.strip() for ln in r.stdout.splitlines() if "Mhz" in ln or "Power" in ln]
            return "; ".join(lines[:6]) or None
        except (subprocess.SubprocessError, OSError):
            return None
    return None


# ---------------------------------------------------------------------------------------------
# the run


@dataclass
class Settings:
    warmups: int
    iters: int
    quick: bool
    layers: list[Layer]
    ms: list[int]
    fp8_ms: list[int]
    decode: list[tuple[int, int]]
    prefill: list[int]
    square: int
    copy_bytes: int
    sections: set[str]


SECTION_WEIGHTS = {
    "copy_bandwidth": 0.02,
    "gemm_square_bf16": 0.04,
    "gemm_bf16": 0.46,
    "gemm_fp8": 0.14,
    "attention_decode": 0.20,
    "attention_prefill": 0.14,
}
ALL_SECTIONS = list(SECTION_WEIGHTS)


class Runner:
    def __init__(self, be: Backend, st: Settings, budget: Budget, log: Callable[[str], None]) -> None:
        self.be = be
        self.st = st
        self.budget = budget
        self.log = log
        self.skipped: list[str] = []
        self.iters_used: set[int] = set()

    def measure(
        self, label: str, make: Callable[[], Case], deadline: Optional[float], force: bool = False
    ) -> Optional[float]:
        """Median seconds of the timed calls, or None (skipped, with the reason noted)."""
        if deadline is not None and time.perf_counter() > deadline and not force:
            self.skipped.append(f"{label}: out of time (--max-seconds)")
            return None
        fn: Optional[Case] = None
        try:
            fn = make()
            first = self.be.time_one(fn, 0)  # the first warm-up also estimates the call's time
            iters = self.st.iters
            warm = max(0, self.st.warmups - 1)
            if deadline is not None:
                left = deadline - time.perf_counter()
                fits = int(left / max(first, 1e-9)) - warm
                if fits < iters:
                    if fits < 3 and not force:
                        self.skipped.append(f"{label}: out of time (--max-seconds; one call ~{first:.3g} s)")
                        return None
                    iters = max(1, fits)
            for i in range(warm):
                self.be.time_one(fn, 1 + i)
            times = [self.be.time_one(fn, 1 + warm + i) for i in range(iters)]
            self.iters_used.add(iters)
            return float(statistics.median(times))
        except Unsupported:
            raise
        except Exception as e:  # noqa: BLE001 (one failed shape must not end the run)
            if self.be.is_oom(e):
                self.skipped.append(f"{label}: out of memory")
            else:
                self.skipped.append(
                    f"{label}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                )
            return None
        finally:
            del fn
            self.be.release()

    # -- sections

    def copy_bandwidth(self) -> Optional[dict[str, Any]]:
        dl = self.budget.section_deadline("copy_bandwidth")
        nbytes = self.st.copy_bytes
        mem = self.be.mem_bytes()
        if mem:
            nbytes = min(nbytes, max(1 << 20, (mem // 8) >> 20 << 20))
        s = self.measure(f"copy {nbytes} B", lambda: self.be.copy_case(nbytes), dl)
        if s is None:
            return None
        self.log(f"copy_bandwidth: {2 * nbytes / s / 1e12:.3f} TB/s read+write")
        return {"bytes_each_way": nbytes, "seconds": s, "tb_per_s_read_plus_write": 2 * nbytes / s / 1e12}

    def gemm_square(self) -> Optional[dict[str, Any]]:
        dl = self.budget.section_deadline("gemm_square_bf16")
        n = self.st.square
        s = self.measure(f"gemm_square_bf16 n={n}", lambda: self.be.gemm_case(n, n, n, 1), dl)
        if s is None:
            return None
        self.log(f"gemm_square_bf16: n={n} {2 * n**3 / s / 1e12:.3g} TFLOP/s")
        return {"n": n, "seconds": s, "tflops": 2 * n**3 / s / 1e12}

    def _gemm_rows(self, section: str, ms: list[int], fp8: bool) -> tuple[list[dict[str, Any]], bool]:
        """Rows in file order (layer, then m); measured coarse-to-fine across all layers."""
        dl = self.budget.section_deadline(section)
        layers = self.st.layers
        if fp8:
            layers = [x for x in layers if x.layer != "lm_head"]
        cache = self.be.cache_bytes()
        order = coarse_to_fine(len(ms))
        got: dict[tuple[int, int], dict[str, Any]] = {}
        first = True
        case = self.be.fp8_case if fp8 else self.be.gemm_case
        for mi in order:
            for li, ly in enumerate(layers):
                m = ms[mi]
                n, k = ly.n, ly.k
                wbytes = n * k * (1 if fp8 else BF16)
                copies = rotation_copies(wbytes, cache)
                label = f"{section} {ly.model}/{ly.layer} m={m}"

                def make(m: int = m, n: int = n, k: int = k, c: int = copies) -> Case:
                    return case(m, n, k, c)

                try:
                    s = self.measure(label, make, dl, force=first and not fp8)
                except Unsupported as e:
                    self.skipped.append(f"{section}: {e}")
                    return [], True
                first = False
                if s is None:
                    continue
                row: dict[str, Any] = {
                    "model": ly.model,
                    "layer": ly.layer,
                    "m": m,
                    "n": n,
                    "k": k,
                    "seconds": s,
                }
                row["tflops"] = 2 * m * n * k / s / 1e12
                if not fp8:
                    row["tb_per_s"] = (m * k + n * k + m * n) * BF16 / s / 1e12
                got[(li, mi)] = row
            self.log(f"{section}: m={ms[mi]} done ({len(got)} rows)")
        rows = [got[key] for key in sorted(got)]
        return rows, False

    def gemm_bf16(self) -> dict[str, Any]:
        rows, _ = self._gemm_rows("gemm_bf16", self.st.ms, fp8=False)
        return {
            "dtype": "bf16",
            "rows": rows,
            "note": "F.linear(x[m,k], W[n,k]) -> [m,n]; layer names are Llama-3.1 projections "
            "(qkv fused, gate_up fused) at tensor-parallel degree 1"
            + (f"; --quick: every dimension divided by {QUICK_DIV}" if self.st.quick else ""),
        }

    def gemm_fp8(self) -> Optional[dict[str, Any]]:
        if not self.st.fp8_ms:
            self.skipped.append("gemm_fp8: no m in --sizes is a multiple of 16")
            return None
        rows, unsupported = self._gemm_rows("gemm_fp8", self.st.fp8_ms, fp8=True)
        if unsupported or not rows:
            return None
        out: dict[str, Any] = {"dtype": "fp8_e4m3", "rows": rows}
        n = self.st.square
        dl = self.budget.section_deadline("gemm_fp8_square")
        s = self.measure(f"gemm_fp8 square n={n}", lambda: self.be.fp8_case(n, n, n, 1), dl)
        if s is not None:
            out[f"square_{n}_tflops"] = 2 * n**3 / s / 1e12
        dt = getattr(self.be, "fp8_dtype", None)
        out["note"] = "torch._scaled_mm, e4m3 inputs, tensor-wise scales, bf16 output" + (
            f" ({str(dt).replace('torch.', '')})" if dt is not None and "fnuz" in str(dt) else ""
        )
        return out

    def attention_decode(self) -> Optional[dict[str, Any]]:
        dl = self.budget.section_deadline("attention_decode")
        grid = self.st.decode
        cache = self.be.cache_bytes()
        got: dict[int, dict[str, Any]] = {}
        for gi in coarse_to_fine(len(grid)):
            b, ctx = grid[gi]
            kv_bytes = 2 * b * KV_HEADS * ctx * HEAD_DIM * BF16
            copies = rotation_copies(kv_bytes, cache)

            def make(b: int = b, ctx: int = ctx, c: int = copies) -> Case:
                return self.be.decode_case(b, ctx, c)

            s = self.measure(f"attention_decode batch={b} context={ctx}", make, dl)
            if s is None:
                continue
            got[gi] = {
                "batch": b,
                "context": ctx,
                "seconds": s,
                "kv_bytes": kv_bytes,
                "tb_per_s": kv_bytes / s / 1e12,
            }
        self.log(f"attention_decode: {len(got)} rows")
        if not got:
            return None
        impl = self.be.notes().get("decode", "torch SDPA (enable_gqa)")
        return {
            "model_heads": HEADS_SPEC,
            "rows": [got[i] for i in sorted(got)],
            "note": f"{impl}{' of' if impl in PLAIN_ATTENTION else ';'} "
            "one query token per sequence "
            f"over a dense KV cache: {Q_HEADS} query heads, {KV_HEADS} KV heads, head dim {HEAD_DIM}, bf16; "
            "kv_bytes = K+V bytes read",
        }

    def attention_prefill(self) -> Optional[dict[str, Any]]:
        dl = self.budget.section_deadline("attention_prefill")
        got: dict[int, dict[str, Any]] = {}
        lengths = self.st.prefill
        for li in coarse_to_fine(len(lengths)):
            length = lengths[li]

            def make(length: int = length) -> Case:
                return self.be.prefill_case(length)

            s = self.measure(f"attention_prefill length={length}", make, dl)
            if s is None:
                continue
            flops = 4 * Q_HEADS * HEAD_DIM * length * length / 2
            got[li] = {"batch": 1, "length": length, "seconds": s, "tflops": flops / s / 1e12}
        self.log(f"attention_prefill: {len(got)} rows")
        if not got:
            return None
        impl = self.be.notes().get("prefill", "torch SDPA causal")  # the reference's words
        return {
            "model_heads": HEADS_SPEC,
            "rows": [got[i] for i in sorted(got)],
            "note": f"{impl}, batch 1, {Q_HEADS} query heads, {KV_HEADS} KV heads, head dim {HEAD_DIM}; "
            "tflops counts the causal half",
        }


def parse_sizes(s: str) -> list[int]:
    try:
        out = sorted({int(x) for x in s.replace(" ", "").split(",") if x})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {s!r}") from None
    if not out or out[0] < 1:
        raise argparse.ArgumentTypeError("give positive integers, e.g. 1,16,256,4096")
    return out


def describe(dev: dict[str, Any], st: Settings, r: Runner, be: Backend, is_gpu: bool) -> str:
    """meta.what: one paragraph on where and how, in the words of the reference table."""
    soft = f"PyTorch {dev.get('torch')}" if "torch" in dev else f"JAX {dev.get('jax')}"
    if dev.get("hip"):
        soft += f" + ROCm/HIP {dev['hip']}"
    if dev.get("cuda_version"):
        soft += f" + CUDA {dev['cuda_version']}"
    if is_gpu:
        timer = (
            "CUDA events around one call (after a synchronize, so a launch gap of a few microseconds "
            "is included)"
        )
    else:
        timer = "time.perf_counter around one call" + (
            " and block_until_ready()" if isinstance(be, JaxBackend) else ""
        )
    iters = (
        f"{st.iters}"
        if r.iters_used <= {st.iters}
        else f"{min(r.iters_used)} to {max(r.iters_used)} (cut by --max-seconds)"
    )
    cache = f"{be.cache_bytes() / 1e6:.0f} MB {'L2' if is_gpu else 'cache'}"
    return (
        f"Microbenchmarks measured on one {dev['device']} with {soft}, bf16 unless noted, by {PROFILER}"
        f"{' --quick (tiny shapes)' if st.quick else ''}. Each time is the median of {iters} timed calls "
        f"after {st.warmups} warm-ups, timed with {timer}. Weights (and small KV caches) are rotated among "
        f"up to {MAX_COPIES} copies so small matrices do not sit in the {cache}."
    )


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="profile-accelerator.py",
        description="Measure GEMM, attention and copy times on this accelerator, in the table format "
        "`pertoken calibrate --table` reads (that of calibration/h200-microbench.json).",
    )
    ap.add_argument(
        "--out",
        default="microbench.json",
        help="where to write the table (default: %(default)s; '-' = stdout)",
    )
    ap.add_argument(
        "--device",
        choices=["cuda", "cpu", "tpu"],
        default="cuda",
        help="cuda (NVIDIA, or AMD with a ROCm build of PyTorch), cpu, or tpu (JAX)",
    )
    ap.add_argument(
        "--backend",
        choices=["torch", "jax"],
        default=None,
        help="torch (default) or jax (default for --device tpu)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny shapes (8B projections / {QUICK_DIV}, small attention grid): seconds on a CPU, for tests",
    )
    ap.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help="GEMM token counts m to measure, e.g. 1,16,256,4096 (default: 1,4,16,32,...,16384; "
        "fp8 uses those that are multiples of 16)",
    )
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="wall-clock budget (soft: a shape once started finishes its first call), shared out among the "
        "sections; what does not fit is skipped and listed in meta.skipped",
    )
    ap.add_argument(
        "--sections",
        default=None,
        help=f"comma list of sections to measure, of {','.join(ALL_SECTIONS)} (default: all, except "
        "gemm_fp8 on the CPU, where PyTorch only emulates fp8, at seconds per call; gemm_bf16 is always "
        "measured)",
    )
    ap.add_argument("--warmups", type=int, default=3, help="warm-up calls per shape (default: %(default)s)")
    ap.add_argument(
        "--iters",
        type=int,
        default=10,
        help="timed calls per shape; the median is kept (default: %(default)s)",
    )
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    a = ap.parse_args(argv)
    if a.warmups < 1 or a.iters < 1:
        ap.error("--warmups and --iters must be at least 1")
    if a.max_seconds is not None and a.max_seconds <= 0:
        ap.error("--max-seconds must be positive")
    default_sections = [s for s in ALL_SECTIONS if not (a.device == "cpu" and s == "gemm_fp8")]
    sections = {s.strip() for s in (a.sections or ",".join(default_sections)).split(",") if s.strip()}
    unknown = sections - set(ALL_SECTIONS)
    if unknown:
        ap.error(f"--sections: unknown {sorted(unknown)}; known: {','.join(ALL_SECTIONS)}")
    sections.add("gemm_bf16")
    backend = a.backend or ("jax" if a.device == "tpu" else "torch")
    if a.device == "tpu" and backend != "jax":
        ap.error("--device tpu needs the JAX backend")

    t0 = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    log: Callable[[str], None] = (
        (lambda s: None)
        if a.quiet
        else (lambda s: print(f"[{time.perf_counter() - t0:7.1f}s] {s}", file=sys.stderr, flush=True))
    )

    be: Backend = JaxBackend(a.device) if backend == "jax" else TorchBackend(a.device, a.threads)
    quick = a.quick
    st = Settings(
        warmups=a.warmups,
        iters=a.iters,
        quick=quick,
        layers=QUICK_LAYERS if quick else FULL_LAYERS,
        ms=a.sizes or (QUICK_M if quick else FULL_M),
        fp8_ms=[m for m in a.sizes if m % 16 == 0] if a.sizes else (QUICK_FP8_M if quick else FULL_FP8_M),
        decode=QUICK_DECODE if quick else FULL_DECODE,
        prefill=QUICK_PREFILL if quick else FULL_PREFILL,
        square=QUICK_SQUARE if quick else FULL_SQUARE,
        copy_bytes=QUICK_COPY_BYTES if quick else FULL_COPY_BYTES,
        sections=sections,
    )
    if a.device == "cpu" and not quick:
        log("note: full shapes on a CPU take a long time; use --quick or --max-seconds")
    weights = {k: w for k, w in SECTION_WEIGHTS.items() if k in sections}
    if "gemm_fp8" in weights:  # the fp8 square gets a slice of the fp8 share
        weights["gemm_fp8_square"] = weights["gemm_fp8"] * 0.1
        weights["gemm_fp8"] *= 0.9
    budget = Budget(a.max_seconds, weights)
    dev_meta = be.meta()
    log(f"measuring on {dev_meta['device']} ({be.name}{', quick shapes' if quick else ''})")
    r = Runner(be, st, budget, log)
    if a.sections is None and a.device == "cpu":
        r.skipped.append(
            "gemm_fp8: not measured on the CPU by default (PyTorch emulates fp8 GEMMs there); "
            "add it with --sections"
        )

    table: dict[str, Any] = {"meta": {}}
    if "copy_bandwidth" in sections and (x := r.copy_bandwidth()) is not None:
        table["copy_bandwidth"] = x
    if "gemm_square_bf16" in sections and (x := r.gemm_square()) is not None:
        table["gemm_square_bf16"] = x
    table["gemm_bf16"] = r.gemm_bf16()
    if "gemm_fp8" in sections and (x := r.gemm_fp8()) is not None:
        table["gemm_fp8"] = x
    if "attention_decode" in sections and (x := r.attention_decode()) is not None:
        table["attention_decode"] = x
    if "attention_prefill" in sections and (x := r.attention_prefill()) is not None:
        table["attention_prefill"] = x

    if not table["gemm_bf16"]["rows"]:
        print("profile-accelerator: no GEMM could be measured:\n  " + "\n  ".join(r.skipped), file=sys.stderr)
        return 1

    seconds_total = time.perf_counter() - t0
    is_gpu = isinstance(be, TorchBackend) and be.is_cuda
    is_rocm = isinstance(be, TorchBackend) and be.is_rocm
    meta: dict[str, Any] = dict(dev_meta)
    meta.update(
        {
            "started": started,
            "seconds_total": seconds_total,
            "what": describe(dev_meta, st, r, be, is_gpu),
            "profiler": PROFILER,
            "backend": be.name,
            "quick": quick,
            "warmups": st.warmups,
            "iters": st.iters,
            "timer": "cuda_events" if is_gpu else "perf_counter",
            "python": platform.python_version(),
        }
    )
    if a.max_seconds is not None:
        meta["max_seconds"] = a.max_seconds
    smi = smi_snapshot(is_rocm) if is_gpu else None
    if smi:
        meta["rocm_smi_after" if is_rocm else "nvidia_smi_after"] = smi
    if r.skipped:
        meta["skipped"] = r.skipped
    table["meta"] = meta

    text = json.dumps(table, indent=1) + "\n"
    if a.out == "-":
        sys.stdout.write(text)
    else:
        d = os.path.dirname(os.path.abspath(a.out))
        os.makedirs(d, exist_ok=True)
        tmp = a.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.out)
    n_rows = sum(len(v["rows"]) for v in table.values() if isinstance(v, dict) and "rows" in v)
    log(
        f"wrote {a.out}: {n_rows} rows in {seconds_total:.1f} s"
        + (f"; {len(r.skipped)} skipped (meta.skipped)" if r.skipped else "")
    )
    return 0


def _reexec_with_torch() -> None:
    """If this Python cannot import torch but another one can ($PERTOKEN_PYTHON, then
    /usr/bin/python3, e.g. Debian's python3-torch under a pyenv python3), run under that one."""
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("torch") is not None or os.environ.get("PERTOKEN_PROFILER_REEXEC"):
        return
    here = os.path.realpath(sys.executable)
    for cand in [os.environ.get("PERTOKEN_PYTHON", ""), "/usr/bin/python3", shutil.which("python3") or ""]:
        if not cand or not os.path.exists(cand) and not shutil.which(cand):
            continue
        exe = cand if os.path.exists(cand) else shutil.which(cand) or cand
        if os.path.realpath(exe) == here:
            continue
        probe = subprocess.run([exe, "-c", "import torch"], capture_output=True, timeout=120, check=False)
        ok = probe.returncode == 0
        if ok:
            print(
                f"profile-accelerator: torch is not importable by {sys.executable}; running under {exe}",
                file=sys.stderr,
            )
            os.environ["PERTOKEN_PROFILER_REEXEC"] = "1"
            os.execv(exe, [exe, os.path.abspath(__file__), *sys.argv[1:]])
    raise SystemExit(
        "profile-accelerator: PyTorch is not importable by "
        f"{sys.executable} (nor by $PERTOKEN_PYTHON or /usr/bin/python3). Install it "
        "(pip install torch; or on Debian: apt-get install python3-torch) or set PERTOKEN_PYTHON."
    )


def _wants_torch(argv: list[str]) -> bool:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-h", "--help", action="store_true")
    pre.add_argument("--device", default="cuda")
    pre.add_argument("--backend", default=None)
    known, _ = pre.parse_known_args(argv)
    return not known.help and known.device != "tpu" and known.backend != "jax"


if __name__ == "__main__":
    if _wants_torch(sys.argv[1:]):
        _reexec_with_torch()
    sys.exit(main())
