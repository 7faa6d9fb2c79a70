/* fuzz_gzip.c - gzip inflate with a cap (runtime/base/gzip.c) on arbitrary
 * bytes.
 *
 * Input: a 4-byte output cap (taken modulo 1 MiB, so bombs are cheap to
 * detect), then the compressed body. What must hold: success means the
 * output is within the cap and NUL-terminated; every failure leaves no
 * buffer behind and a message; the cap is a property of the body, so the
 * same body under a cap one byte larger than its output still inflates. */
#include "fuzz.h"

#include "gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {data, size};
    size_t cap = fz_u32(&in) % (1u << 20);
    char *out = (char *)1, err[256] = "";
    size_t out_len = 0;
    sr_gzip_status st = sr_gzip_inflate(in.p, in.n, cap, &out, &out_len, err, sizeof err);
    switch (st) {
    case SR_GZIP_OK:
        FZ_ASSERT(out != NULL && out_len <= cap && out[out_len] == '\0');
        free(out);
        break;
    case SR_GZIP_TOO_LARGE:
    case SR_GZIP_CORRUPT:
    case SR_GZIP_NOMEM: FZ_ASSERT(out == NULL && err[0] != '\0'); break;
    default: FZ_ASSERT(!"unknown status");
    }
    if (st == SR_GZIP_OK && out_len < cap) {
        char *again = NULL;
        size_t again_len = 0;
        FZ_ASSERT(sr_gzip_inflate(in.p, in.n, out_len, &again, &again_len, err, sizeof err) ==
                  SR_GZIP_OK);
        FZ_ASSERT(again_len == out_len);
        free(again);
    }
    return 0;
}
