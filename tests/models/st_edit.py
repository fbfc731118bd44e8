#!/usr/bin/python3
"""st_edit.py MODE SRC DST — write a deliberately broken copy of a safetensors file for the
bad-input tests.  MODES: trunc4 (4 bytes), trunc_data (cut the data section), hdr_beyond
(header length larger than the file), offs_range (one tensor's end offset past the data),
overlap (two same-size tensors share bytes), dtype_i32 (an F32 tensor relabelled I32)."""
import json, struct, sys

mode, src, dst = sys.argv[1:4]
b = open(src, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
hdr = json.loads(b[8:8 + n])
data = b[8 + n:]


def write(h, d):
    hb = json.dumps(h, separators=(',', ':')).encode()
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    open(dst, 'wb').write(struct.pack('<Q', len(hb)) + hb + d)


if mode == 'trunc4':
    open(dst, 'wb').write(b[:4])
elif mode == 'trunc_data':
    open(dst, 'wb').write(b[:8 + n + len(data) // 2])
elif mode == 'hdr_beyond':
    open(dst, 'wb').write(struct.pack('<Q', len(b) + 1000) + b[8:64])
elif mode == 'offs_range':
    k = 'h.0.ln_1.bias'
    s, e = hdr[k]['data_offsets']
    hdr[k]['data_offsets'] = [len(data) + 16, len(data) + 16 + (e - s)]
    write(hdr, data)
elif mode == 'overlap':
    hdr['h.0.ln_1.bias']['data_offsets'] = list(hdr['h.0.ln_1.weight']['data_offsets'])
    write(hdr, data)
elif mode == 'dtype_i32':
    hdr['h.1.mlp.c_fc.weight']['dtype'] = 'I32'
    write(hdr, data)
else:
    sys.exit('unknown mode ' + mode)
