"""saetox — Python bindings for libsaetox (sparse autoencoders and steering for detoxifying
language models), over ctypes.  numpy arrays go in and come out; outputs are allocated by
numpy and filled in place by the library, and SAE parameters are read-only views of the
library's own memory.

    import saetox
    m = saetox.Model("models/embedded")
    ids = m.tokenize("The weather today")
    logits, hooks = m.forward(ids, hooks=["blocks.2.hook_resid_pre"])
    sae = saetox.SAE("demo-out/topk-1024-k16")
    f = sae.encode(hooks["blocks.2.hook_resid_pre"])
    steer = saetox.Steering(sae, [12, 40], "steer", alpha=4.0)
    text = m.decode(m.generate(ids, 20, greedy=True, steering=steer))

Errors from the library raise saetox.SaetoxError with .code (an sx_code number), .code_name
("SX_EIO", ...) and .msg (the library's one-line message).  The library is found through
SAETOX_LIBRARY (a path to libsaetox.so), else pkg-config's libdir of an installed saetox, else
the dynamic loader (ctypes.util.find_library).
"""

import ctypes
import os
import threading
from ctypes import POINTER, byref, c_char_p, c_double, c_float, c_int, c_int32, c_size_t, c_void_p

import numpy as np

from . import _lib
from ._lib import SxErr, SxSteer

_LIB, LIBRARY_PATH = _lib.load()

__version__ = "0.3.0"

# sx_code (core.h)
SX_OK, SX_ERROR, SX_ENOMEM, SX_EIO, SX_ENOTFOUND, SX_ECORRUPT, SX_EINVAL, SX_EUNSUPPORTED, SX_ENUMERIC = range(9)

__all__ = ["Model", "SAE", "Steering", "SaetoxError", "score_toxicity", "train", "eval_sae", "version",
           "set_threads", "LIBRARY_PATH", "SX_ERROR", "SX_ENOMEM", "SX_EIO", "SX_ENOTFOUND", "SX_ECORRUPT",
           "SX_EINVAL", "SX_EUNSUPPORTED", "SX_ENUMERIC"]


class SaetoxError(Exception):
    """A failure reported by libsaetox: .code (sx_code), .code_name, .msg."""

    def __init__(self, code, msg):
        self.code = int(code)
        self.code_name = _LIB.sx_code_name(self.code).decode()
        self.msg = msg
        super().__init__(f"{self.code_name}: {msg}")


def _raise(err):
    raise SaetoxError(err.code or SX_ERROR, err.msg.decode("utf-8", "replace"))


def _check(rc, err):
    if rc != 0:
        _raise(err)


def _einval(msg):
    return SaetoxError(SX_EINVAL, msg)


def version():
    """The version of the loaded libsaetox."""
    return _LIB.sx_version().decode()


def set_threads(n):
    """OpenMP / OpenBLAS threads of the library (n <= 0: the defaults)."""
    _LIB.sx_set_threads(int(n))


def _fptr(a):
    return a.ctypes.data_as(POINTER(c_float))


def _ids_array(ids, what="ids"):
    a = np.asarray(ids)
    if a.ndim != 1:
        raise _einval(f"{what}: expected a 1-D sequence of token ids, got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise _einval(f"{what}: token ids must be integers, got dtype {a.dtype}")
    if a.size and (a.min() < 0 or a.max() > np.iinfo(np.int32).max):
        raise _einval(f"{what}: token ids must be in 0..{np.iinfo(np.int32).max}")
    return np.ascontiguousarray(a, dtype=np.int32)


def _path(p, what):
    if p is None:
        raise _einval(f"{what}: no path given")
    return os.fsencode(os.fspath(p))


class _View:
    """Exposes library memory to numpy; keeps the owning object alive as the array's base."""

    def __init__(self, owner, addr, shape, readonly=True):
        self.owner = owner
        self.__array_interface__ = {"data": (addr, readonly), "shape": tuple(shape), "typestr": "<f4",
                                    "version": 3}


class Model:
    """A Hugging Face model folder (GPT-2 family, Gemma-2): config.json + model.safetensors, and
    the tokenizer files when present.  Not safe for concurrent calls from several threads."""

    def __init__(self, path):
        self.path = os.fspath(path)
        err = SxErr()
        h = c_void_p()
        _check(_LIB.sx_capi_model_load(_path(path, "Model"), byref(h), byref(err)), err)
        self._h = h
        self._tok = None
        self._lock = threading.Lock()
        v, d, L, nctx, bos, eos = (c_int() for _ in range(6))
        _LIB.sx_capi_model_dims(h, byref(v), byref(d), byref(L), byref(nctx), byref(bos), byref(eos))
        self.vocab_size, self.d_model, self.n_layers, self.n_ctx = v.value, d.value, L.value, nctx.value
        self.bos_id, self.eos_id = bos.value, eos.value

    def close(self):
        """Free the model (and its tokenizer); later calls raise SaetoxError."""
        if getattr(self, "_h", None):
            _LIB.sx_model_free(self._h)
            self._h = None
        if getattr(self, "_tok", None):
            _LIB.sx_tokenizer_free(self._tok)
            self._tok = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _handle(self):
        if not self._h:
            raise _einval(f"{self.path}: the model is closed")
        return self._h

    def __repr__(self):
        return (f"saetox.Model({self.path!r}: vocab {self.vocab_size}, d_model {self.d_model}, "
                f"{self.n_layers} layers, n_ctx {self.n_ctx})")

    @property
    def hook_names(self):
        """Every hook point: blocks.L.hook_resid_pre and blocks.L.hook_resid_post."""
        return [f"blocks.{L}.hook_resid_{p}" for L in range(self.n_layers) for p in ("pre", "post")]

    def _tokenizer(self):
        if self._tok is None:
            err = SxErr()
            t = c_void_p()
            _check(_LIB.sx_capi_tokenizer_load(_path(self.path, "tokenizer"), byref(t), byref(err)), err)
            self._tok = t
        return self._tok

    def tokenize(self, text, add_special=True):
        """Token ids of text (str or bytes); add_special adds BOS where the tokenizer's config says
        so (as `saetox tokenize`; add_special=False is --no-special)."""
        b = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        err = SxErr()
        p = POINTER(c_int32)()
        n = c_int()
        _check(_LIB.sx_tokenizer_encode(self._tokenizer(), b, len(b), int(bool(add_special)), byref(p), byref(n),
                                        byref(err)), err)
        try:
            return [int(p[i]) for i in range(n.value)]
        finally:
            _LIB.sx_capi_free(ctypes.cast(p, c_void_p))

    def decode_bytes(self, ids):
        """The exact bytes of the ids."""
        a = _ids_array(ids)
        err = SxErr()
        s = c_void_p()
        n = c_size_t()
        _check(_LIB.sx_tokenizer_decode(self._tokenizer(), a.ctypes.data_as(POINTER(c_int32)), a.size, byref(s),
                                        byref(n), byref(err)), err)
        try:
            return ctypes.string_at(s, n.value)
        finally:
            _LIB.sx_capi_free(s)

    def decode(self, ids):
        """Text of the ids (invalid UTF-8 replaced by U+FFFD; decode_bytes keeps it)."""
        return self.decode_bytes(ids).decode("utf-8", "replace")

    def forward(self, ids, hooks=(), logits=True, steering=None):
        """Run one sequence.  Returns (logits [T, vocab] float32 or None, {hook: [T, d_model]
        float32}) for hook names blocks.L.hook_resid_pre|post.  steering (a Steering) applies its
        intervention during the pass."""
        a = _ids_array(ids)
        if isinstance(hooks, str):
            hooks = [hooks]
        hooks = list(hooks)
        T = a.size
        lg = np.empty((T, self.vocab_size), np.float32) if logits else None
        outs = {h: np.empty((T, self.d_model), np.float32) for h in hooks}
        names = (c_char_p * max(1, len(hooks)))(*[h.encode() for h in hooks])
        bufs = (POINTER(c_float) * max(1, len(hooks)))(*[_fptr(outs[h]) for h in hooks])
        st = steering._struct(self) if steering is not None else None
        err = SxErr()
        with self._lock:
            rc = _LIB.sx_capi_forward(self._handle(), a.ctypes.data_as(POINTER(c_int32)), T, names, len(hooks),
                                      _fptr(lg) if lg is not None else None, bufs,
                                      byref(st) if st is not None else None, byref(err))
        _check(rc, err)
        return lg, outs

    def generate(self, ids, max_new_tokens, greedy=False, temperature=1.0, top_p=1.0, seed=0, steering=None,
                 top_k=0, stop_ids=None):
        """KV-cached continuation of ids (a list of ids, or a str to tokenize): the new token ids.
        greedy (or temperature <= 0) takes the argmax (first index on ties); otherwise samples
        with temperature / top_p / top_k from the stream of seed (as `saetox generate`).
        steering: a Steering.  stop_ids: generation ends after one of them is emitted."""
        if isinstance(ids, str):
            ids = self.tokenize(ids)
        a = _ids_array(ids)
        n_new = int(max_new_tokens)
        if n_new < 0:
            raise _einval(f"generate: max_new_tokens {n_new} is negative")
        out = np.zeros(max(1, n_new), np.int32)
        stop = _ids_array([] if stop_ids is None else list(stop_ids), "stop_ids")
        n_out = c_int()
        st = steering._struct(self) if steering is not None else None
        err = SxErr()
        temp = 0.0 if greedy else float(temperature)
        with self._lock:
            rc = _LIB.sx_capi_generate(self._handle(), a.ctypes.data_as(POINTER(c_int32)), a.size, n_new, temp,
                                       float(top_p), int(top_k), int(seed) & (2**64 - 1),
                                       stop.ctypes.data_as(POINTER(c_int32)) if stop.size else None, stop.size,
                                       byref(st) if st is not None else None,
                                       out.ctypes.data_as(POINTER(c_int32)), byref(n_out), byref(err))
        _check(rc, err)
        return [int(t) for t in out[:n_out.value]]


_ARCHS = {1: "standard", 2: "topk", 3: "batchtopk", 4: "jumprelu"}


class SAE:
    """A sparse autoencoder: a SAELens folder (cfg.json + sae_weights.safetensors), its
    sae_weights.safetensors, or a Gemma Scope params.npz.  W_enc, b_enc, W_dec, b_dec and
    threshold are read-only numpy views of the loaded parameters (no copies); they keep the SAE
    alive."""

    def __init__(self, path):
        self.path = os.fspath(path)
        err = SxErr()
        h = _LIB.sx_capi_sae_load(_path(path, "SAE"), byref(err))
        if not h:
            _raise(err)
        self._h = c_void_p(h)
        arch, d_in, d_sae, k, abd = (c_int() for _ in range(5))
        ns = c_float()
        _LIB.sx_capi_sae_dims(self._h, byref(arch), byref(d_in), byref(d_sae), byref(k), byref(abd), byref(ns))
        self.arch = _ARCHS.get(arch.value, str(arch.value))
        self.d_in, self.d_sae, self.k = d_in.value, d_sae.value, k.value
        self.apply_b_dec_to_input = bool(abd.value)
        self.norm_scale = ns.value
        self.hook_name = _LIB.sx_capi_sae_hook_name(self._h).decode()
        self.model_name = _LIB.sx_capi_sae_model_name(self._h).decode()

    def __del__(self):
        try:
            if getattr(self, "_h", None):
                _LIB.sx_capi_sae_free(self._h)
                self._h = None
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self):
        return (f"saetox.SAE({self.path!r}: {self.arch}, d_in {self.d_in}, d_sae {self.d_sae}, "
                f"hook {self.hook_name or '(none)'})")

    def _param(self, name, shape):
        addr = _LIB.sx_capi_sae_param(self._h, name.encode())
        if not addr:
            return None
        return np.asarray(_View(self, addr, shape))

    @property
    def W_enc(self):
        return self._param("W_enc", (self.d_in, self.d_sae))

    @property
    def b_enc(self):
        return self._param("b_enc", (self.d_sae,))

    @property
    def W_dec(self):
        return self._param("W_dec", (self.d_sae, self.d_in))

    @property
    def b_dec(self):
        return self._param("b_dec", (self.d_in,))

    @property
    def threshold(self):
        return self._param("threshold", (self.d_sae,))

    @staticmethod
    def _rows(x, what):
        a = np.asarray(x)
        if a.ndim == 0:
            raise _einval(f"{what}: expected an array of shape [..., d], got a scalar")
        a = np.ascontiguousarray(a, dtype=np.float32)
        lead = a.shape[:-1]
        return a.reshape(-1, a.shape[-1]) if a.ndim != 2 else a, lead

    def encode(self, x, return_hidden_pre=False):
        """feature_acts [..., d_sae] of x [..., d_in] (float32; other dtypes are converted).  With
        return_hidden_pre, (feature_acts, hidden_pre)."""
        a, lead = self._rows(x, "SAE.encode")
        n = a.shape[0]
        f = np.empty((n, self.d_sae), np.float32)
        pre = np.empty((n, self.d_sae), np.float32) if return_hidden_pre else None
        err = SxErr()
        _check(_LIB.sx_capi_sae_encode(self._h, _fptr(a), n, a.shape[1], _fptr(f),
                                       _fptr(pre) if pre is not None else None, byref(err)), err)
        f = f.reshape(lead + (self.d_sae,))
        return (f, pre.reshape(lead + (self.d_sae,))) if return_hidden_pre else f

    def decode(self, f):
        """reconstruction [..., d_in] of feature_acts [..., d_sae]."""
        a, lead = self._rows(f, "SAE.decode")
        n = a.shape[0]
        r = np.empty((n, self.d_in), np.float32)
        err = SxErr()
        _check(_LIB.sx_capi_sae_decode(self._h, _fptr(a), n, a.shape[1], _fptr(r), byref(err)), err)
        return r.reshape(lead + (self.d_in,))

    def __call__(self, x):
        """decode(encode(x))."""
        return self.decode(self.encode(x))


_TIERS = ("ablate", "suppress", "steer")


class Steering:
    """An SAE intervention for Model.generate / Model.forward (steering.h):
      ablate:   x -= sum_i a_i(x) dec_i            where a_i > 0
      suppress: x -= (a_i(x) + alpha A_i) dec_i    where a_i > 0
      steer:    x -= alpha A_i dec_i               everywhere
    at the SAE's hook (or hook=...), for the given latents; scales A_i: None (all 1), an array of
    one per latent, or a CSV / JSON file spec as `saetox generate --scales`."""

    def __init__(self, sae, latents, tier="steer", alpha=1.0, scales=None, hook=None):
        if not isinstance(sae, SAE):
            raise _einval("Steering: sae must be a saetox.SAE")
        if tier not in _TIERS:
            raise _einval(f"Steering: tier must be one of {', '.join(_TIERS)}, got {tier!r}")
        lat = np.atleast_1d(np.asarray(latents))
        if lat.ndim != 1 or lat.size == 0 or not np.issubdtype(lat.dtype, np.integer):
            raise _einval("Steering: latents must be a non-empty list of integers")
        if lat.min() < 0 or lat.max() >= sae.d_sae:
            raise _einval(f"Steering: latent {int(lat.max() if lat.max() >= sae.d_sae else lat.min())} "
                          f"out of range for d_sae {sae.d_sae}")
        self.sae, self.tier, self.alpha, self.hook = sae, tier, float(alpha), hook
        self.latents = np.ascontiguousarray(lat, dtype=np.intc)
        if scales is None:
            self.scales = np.ones(lat.size, np.float32)
        elif isinstance(scales, (str, os.PathLike)):
            self.scales = np.ones(lat.size, np.float32)
            err = SxErr()
            _check(_LIB.sx_scales_load(os.fsencode(scales), self.latents.ctypes.data_as(POINTER(c_int)), lat.size,
                                       _fptr(self.scales), byref(err)), err)
        else:
            s = np.ascontiguousarray(np.asarray(scales, dtype=np.float32).reshape(-1))
            if s.size != lat.size:
                raise _einval(f"Steering: {s.size} scales for {lat.size} latents")
            self.scales = s

    def __repr__(self):
        return (f"saetox.Steering({self.tier}, latents {self.latents.tolist()}, alpha {self.alpha}, "
                f"sae {self.sae.path!r})")

    def _struct(self, model):
        self._hook_b = self.hook.encode() if self.hook else None
        return SxSteer(self.sae._h, self._hook_b, self.tier.encode(),
                       self.latents.ctypes.data_as(POINTER(c_int)), self.latents.size, _fptr(self.scales),
                       self.alpha)


_scorers = {}
_scorer_lock = threading.Lock()


def _scorer(weights):
    with _scorer_lock:
        key = os.fspath(weights) if weights is not None else None
        if key not in _scorers:
            err = SxErr()
            h = c_void_p()
            if key is None:
                rc = _LIB.sx_scorer_load_default(byref(h), None, 0, byref(err))
            else:
                rc = _LIB.sx_scorer_load(os.fsencode(key), byref(h), byref(err))
            _check(rc, err)
            _scorers[key] = h
        return _scorers[key]


def score_toxicity(texts, weights=None):
    """p(toxic) of each text (float64 array) with the built-in scorer (as `saetox
    score-toxicity`), or the weights file given."""
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    enc = [t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in texts]
    out = np.empty(len(enc), np.float64)
    if not enc:
        return out
    arr = (c_char_p * len(enc))(*enc)
    _LIB.sx_scorer_score_many(_scorer(weights), arr, len(enc), out.ctypes.data_as(POINTER(c_double)))
    return out


def _int_array(v, what):
    a = np.atleast_1d(np.asarray(v))
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise _einval(f"{what}: expected a list of integers")
    return np.ascontiguousarray(a, dtype=np.intc)


def train(caches, out_dir, widths, arch="topk", tokens=None, k=None, batch=None, lr=None, seed=0,
          normalize=None, eval_cache=None):
    """Train SAEs of several widths in one pass over HDF5 activation caches (as `saetox train`):
    writes OUT/<name>/ SAELens folders, OUT/metrics.jsonl (and OUT/eval.jsonl with
    eval_cache).  tokens: training rows in total.  Returns the paths of the SAE folders."""
    if isinstance(caches, (str, os.PathLike)):
        caches = [caches]
    caches = [os.fsencode(c) for c in caches]
    if tokens is None:
        raise _einval("train: give tokens (training rows in total)")
    w = _int_array(widths, "train: widths")
    ks = _int_array([] if k is None else k, "train: k")
    arr = (c_char_p * max(1, len(caches)))(*caches)
    err = SxErr()
    _check(_LIB.sx_capi_train(arr, len(caches), _path(out_dir, "train: out_dir"), str(arch).encode(),
                              w.ctypes.data_as(POINTER(c_int)), w.size,
                              ks.ctypes.data_as(POINTER(c_int)) if ks.size else None, ks.size, int(tokens),
                              int(batch or 0), float(lr or 0), int(seed) & (2**64 - 1),
                              -1 if normalize is None else int(bool(normalize)),
                              os.fsencode(eval_cache) if eval_cache else None, byref(err)), err)
    out = []
    for name in sorted(os.listdir(out_dir)):
        p = os.path.join(out_dir, name)
        if os.path.isfile(os.path.join(p, "cfg.json")) and name != "checkpoint":
            out.append(p)
    return out


def eval_sae(model, saes, ids=None, data=None, context_size=None, tokens=None, names=None, hook=None):
    """SAE quality with each SAE spliced into the model (as `saetox eval-sae`): on one sequence
    of token ids, or on a text source (datasets syntax, e.g. "text:file.txt") packed into
    context_size windows with BOS, up to tokens positions.  hook: for an SAE that names none
    (Gemma Scope).  Returns one dict per SAE (sae, hook,
    l0, mse, explained_variance, fvu, ce_*, kl_*, ce_loss_score, kl_div_score, dead_frac, ...)."""
    own = not isinstance(model, Model)
    m = Model(model) if own else model
    if isinstance(saes, (SAE, str, os.PathLike)):
        saes = [saes]
    saes = [s if isinstance(s, SAE) else SAE(s) for s in saes]
    if names is None:
        names = [s.path for s in saes]
    fields = _LIB.sx_capi_eval_sae_fields().decode().split(",")
    out = np.zeros((len(saes), len(fields)), np.float64)
    hs = (c_void_p * max(1, len(saes)))(*[s._h.value for s in saes])
    nm = (c_char_p * max(1, len(saes)))(*[os.fsencode(n) for n in names])
    a = _ids_array(ids) if ids is not None else None
    err = SxErr()
    with m._lock:
        rc = _LIB.sx_capi_eval_sae(m._handle(), hs, nm, len(saes),
                                   a.ctypes.data_as(POINTER(c_int32)) if a is not None else None,
                                   a.size if a is not None else 0, data.encode() if data else None,
                                   os.fsencode(m.path), int(context_size or 0), int(tokens or 0),
                                   hook.encode() if hook else None,
                                   out.ctypes.data_as(POINTER(c_double)), byref(err))
    _check(rc, err)
    rows = []
    for i, s in enumerate(saes):
        r = {"sae": names[i], "hook": s.hook_name or hook}
        for j, f in enumerate(fields):
            v = float(out[i, j])
            r[f] = int(v) if f in ("d_sae", "n_tokens", "n_spliced", "n_ce") else v
        rows.append(r)
    if own:
        m.close()
    return rows
