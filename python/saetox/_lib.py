"""Finding and declaring libsaetox (ctypes)."""

import ctypes
import ctypes.util
import os
import subprocess

from ctypes import (POINTER, Structure, byref, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint64, c_void_p)

SX_ERR_LEN = 1024


class SxErr(Structure):
    _fields_ = [("msg", c_char * SX_ERR_LEN), ("code", c_int)]


class SxSteer(Structure):
    """Mirror of sx_capi_steer (capi.h)."""
    _fields_ = [("sae", c_void_p), ("hook", c_char_p), ("tier", c_char_p), ("latents", POINTER(c_int)),
                ("n_latents", c_int), ("scales", POINTER(c_float)), ("alpha", c_float)]


def _candidates():
    """Where the library may be, in the order the package tries them (with how each was found)."""
    env = os.environ.get("SAETOX_LIBRARY")
    if env:
        return [(env, "SAETOX_LIBRARY")], True
    out = []
    try:
        r = subprocess.run(["pkg-config", "--variable=libdir", "saetox"], capture_output=True, text=True,
                           timeout=10)
        libdir = r.stdout.strip()
        if r.returncode == 0 and libdir:
            for name in ("libsaetox.so", "libsaetox.so.0.3", "libsaetox.dylib"):
                p = os.path.normpath(os.path.join(libdir, name))
                if os.path.exists(p):
                    out.append((p, "pkg-config --variable=libdir saetox"))
                    break
    except (OSError, subprocess.SubprocessError):
        pass
    found = ctypes.util.find_library("saetox")
    if found:
        out.append((found, "ctypes.util.find_library('saetox')"))
    return out, False


def load():
    cands, from_env = _candidates()
    errors = []
    for path, how in cands:
        if from_env and not os.path.exists(path):
            raise ImportError(f"saetox: SAETOX_LIBRARY={path}: no such file")
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path} ({how}): {e}")
            continue
        if not hasattr(lib, "sx_capi_forward"):
            errors.append(f"{path} ({how}): a libsaetox without the binding API (sx_capi_*, capi.h); "
                          "build a newer one")
            continue
        _declare(lib)
        if lib.sx_capi_err_size() != ctypes.sizeof(SxErr):
            raise ImportError(f"saetox: {path}: sx_err is {lib.sx_capi_err_size()} bytes, the package expects "
                              f"{ctypes.sizeof(SxErr)}: library and package versions differ")
        return lib, path
    detail = "; ".join(errors) if errors else "none found"
    raise ImportError("saetox: cannot find libsaetox.so (" + detail + "). Set SAETOX_LIBRARY to the path of "
                      "libsaetox.so (e.g. build/libsaetox.so), or install saetox (cmake --install) where "
                      "pkg-config or the dynamic loader finds it.")


def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


def _declare(lib):
    E = POINTER(SxErr)
    P = c_void_p
    PF = POINTER(c_float)
    PI32 = POINTER(c_int32)
    PI = POINTER(c_int)
    _fn(lib, "sx_version", c_char_p)
    _fn(lib, "sx_init", c_int, E)
    _fn(lib, "sx_code_name", c_char_p, c_int)
    _fn(lib, "sx_set_threads", None, c_int)
    _fn(lib, "sx_get_threads", c_int)
    _fn(lib, "sx_capi_free", None, P)
    _fn(lib, "sx_capi_err_size", c_size_t)
    # models and tokenizers
    _fn(lib, "sx_model_load", c_int, c_char_p, POINTER(c_void_p), E)
    _fn(lib, "sx_model_free", None, P)
    _fn(lib, "sx_capi_model_load", c_int, c_char_p, POINTER(c_void_p), E)
    _fn(lib, "sx_capi_tokenizer_load", c_int, c_char_p, POINTER(c_void_p), E)
    _fn(lib, "sx_capi_model_dims", None, P, PI, PI, PI, PI, PI, PI)
    _fn(lib, "sx_capi_forward", c_int, P, PI32, c_int, POINTER(c_char_p), c_int, PF, POINTER(PF),
        POINTER(SxSteer), E)
    _fn(lib, "sx_capi_generate", c_int, P, PI32, c_int, c_int, c_float, c_float, c_int, c_uint64, PI32, c_int,
        POINTER(SxSteer), PI32, PI, E)
    _fn(lib, "sx_tokenizer_load", c_int, c_char_p, POINTER(c_void_p), E)
    _fn(lib, "sx_tokenizer_free", None, P)
    _fn(lib, "sx_tokenizer_encode", c_int, P, c_char_p, c_size_t, c_int, POINTER(PI32), PI, E)
    _fn(lib, "sx_tokenizer_decode", c_int, P, PI32, c_int, POINTER(c_void_p), POINTER(c_size_t), E)
    _fn(lib, "sx_tokenizer_vocab_size", c_int, P)
    _fn(lib, "sx_tokenizer_bos", c_int, P)
    _fn(lib, "sx_tokenizer_eos", c_int, P)
    # SAEs
    _fn(lib, "sx_capi_sae_load", P, c_char_p, E)
    _fn(lib, "sx_capi_sae_free", None, P)
    _fn(lib, "sx_capi_sae_dims", None, P, PI, PI, PI, PI, PI, PF)
    _fn(lib, "sx_capi_sae_hook_name", c_char_p, P)
    _fn(lib, "sx_capi_sae_model_name", c_char_p, P)
    _fn(lib, "sx_capi_sae_param", P, P, c_char_p)
    _fn(lib, "sx_capi_sae_encode", c_int, P, PF, c_int64, c_int, PF, PF, E)
    _fn(lib, "sx_capi_sae_decode", c_int, P, PF, c_int64, c_int, PF, E)
    _fn(lib, "sx_scales_load", c_int, c_char_p, PI, c_int, PF, E)
    # scorer
    _fn(lib, "sx_scorer_load_default", c_int, POINTER(c_void_p), c_char_p, c_size_t, E)
    _fn(lib, "sx_scorer_load", c_int, c_char_p, POINTER(c_void_p), E)
    _fn(lib, "sx_scorer_free", None, P)
    _fn(lib, "sx_scorer_score_many", None, P, POINTER(c_char_p), c_int64, POINTER(c_double))
    # training and evaluation
    _fn(lib, "sx_capi_train", c_int, POINTER(c_char_p), c_int, c_char_p, c_char_p, PI, c_int, PI, c_int, c_int64,
        c_int64, c_double, c_uint64, c_int, c_char_p, E)
    _fn(lib, "sx_capi_eval_sae_fields", c_char_p)
    _fn(lib, "sx_capi_eval_sae", c_int, P, POINTER(c_void_p), POINTER(c_char_p), c_int, PI32, c_int, c_char_p,
        c_char_p, c_int, c_int64, c_char_p, POINTER(c_double), E)


__all__ = ["load", "SxErr", "SxSteer", "byref"]
