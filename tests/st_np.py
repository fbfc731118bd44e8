"""st_np.py — minimal safetensors read/write with numpy, for the metric-pin tests (an
implementation independent of saetox's own reader and writer)."""
import json
import struct

import numpy as np

_DT = {'F32': np.float32, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64, 'F16': np.float16}


def read(path):
    """All tensors of a safetensors file as float64 (BF16 widened) / int arrays."""
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for k, v in hdr.items():
        if k == '__metadata__':
            continue
        s, e = v['data_offsets']
        raw = data[s:e]
        if v['dtype'] == 'BF16':
            a = (np.frombuffer(raw, '<u2').astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, np.dtype(_DT[v['dtype']]).newbyteorder('<'))
        a = a.reshape(v['shape'])
        out[k] = a.astype(np.float64) if a.dtype.kind == 'f' else a.copy()
    return out


def write(path, tensors, metadata=None):
    """tensors: name -> numpy array (written as F32 unless integer)."""
    hdr, blobs, off = {}, [], 0
    for k in sorted(tensors):
        a = np.asarray(tensors[k])
        if a.dtype.kind == 'i':
            a, dt = a.astype('<i4'), 'I32'
        else:
            a, dt = a.astype('<f4'), 'F32'
        raw = np.ascontiguousarray(a).tobytes()
        hdr[k] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hdr['__metadata__'] = metadata or {'format': 'pt'}
    hb = json.dumps(hdr, separators=(',', ':')).encode()
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))


def write_saelens(folder, arch, W_enc, b_enc, W_dec, b_dec, hook, k=None, threshold=None):
    """A SAELens folder: cfg.json + sae_weights.safetensors (float32)."""
    import os
    os.makedirs(folder, exist_ok=True)
    d_in, d_sae = W_enc.shape
    cfg = {'architecture': arch, 'd_in': int(d_in), 'd_sae': int(d_sae), 'hook_name': hook,
           'apply_b_dec_to_input': True, 'normalize_activations': 'none', 'dtype': 'float32',
           'model_name': 'pin-test'}
    if k is not None:
        cfg['activation_fn_kwargs'] = {'k': int(k)}
    t = {'W_enc': W_enc, 'b_enc': b_enc, 'W_dec': W_dec, 'b_dec': b_dec}
    if threshold is not None:
        t['threshold'] = threshold
    write(os.path.join(folder, 'sae_weights.safetensors'), t)
    with open(os.path.join(folder, 'cfg.json'), 'w') as f:
        json.dump(cfg, f)


# Checks shared by the numpy pin scripts: check() prints and counts, finish() exits 1 on any FAIL.
fails = 0


def check(ok, what):
    global fails
    print(('ok: ' if ok else 'FAIL: ') + what)
    fails += not ok


def finish():
    import sys
    print('FAILED' if fails else 'all ok')
    sys.exit(1 if fails else 0)
