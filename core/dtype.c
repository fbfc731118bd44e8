/* dtype.c — dtype names and sizes, BF16/F16 <-> F32 conversions. */
#include "core.h"

#include <math.h>
#include <string.h>

static const struct {
    sx_dtype dt;
    const char *name;
    size_t size;
} DTYPES[] = {
    {SX_F64, "F64", 8},  {SX_F32, "F32", 4},   {SX_F16, "F16", 2}, {SX_BF16, "BF16", 2},
    {SX_I64, "I64", 8},  {SX_I32, "I32", 4},   {SX_I16, "I16", 2}, {SX_I8, "I8", 1},
    {SX_U8, "U8", 1},    {SX_BOOL, "BOOL", 1}, {SX_U16, "U16", 2}, {SX_U32, "U32", 4},
    {SX_U64, "U64", 8},
};

size_t sx_dtype_size(sx_dtype dt) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dt == dt) return DTYPES[i].size;
    return 0;
}

const char *sx_dtype_name(sx_dtype dt) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (DTYPES[i].dt == dt) return DTYPES[i].name;
    return "INVALID";
}

sx_dtype sx_dtype_from_name(const char *name) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0) return DTYPES[i].dt;
    return SX_DT_INVALID;
}

float sx_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t sx_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float sx_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t sx_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;  /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u; /* overflow to inf (incl. rounding) */
    if (a < 0x38800000u) {                       /* subnormal or zero in f16 */
        if (a < 0x33000000u) return sign;        /* rounds to zero */
        uint32_t man = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(a >> 23);         /* 14..24 */
        uint32_t half = 1u << (shift - 1);
        uint32_t rest = man & ((1u << shift) - 1);
        uint32_t r = man >> shift;
        if (rest > half || (rest == half && (r & 1u))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = a - 0x38000000u; /* rebias exponent 127 -> 15, still << 13 */
    uint32_t rest = r & 0x1fffu;
    r >>= 13;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) r++;
    return sign | (uint16_t)r;
}

int sx_to_f32(const void *src, sx_dtype dt, float *dst, size_t n) {
    const unsigned char *p = src;
    switch (dt) {
    case SX_F32: memcpy(dst, src, n * 4); return 0;
    case SX_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    case SX_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = sx_bf16_to_f32(h);
        }
        return 0;
    case SX_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = sx_f16_to_f32(h);
        }
        return 0;
    default: return -1;
    }
}
