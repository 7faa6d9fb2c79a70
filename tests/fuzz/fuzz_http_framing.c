/* fuzz_http_framing.c - the strict RFC 9112 framing lexer
 * (runtime/net/http_framing.c) on arbitrary bytes.
 *
 * Input: a selector byte, then a byte stream of requests. The stream is
 * read twice: whole, and in pieces whose sizes come from the selector (1 to
 * 8 bytes at a time, as a slow or hostile client sends them). The lexer
 * keeps its state across feeds, so both readings must agree on every
 * request boundary, on the refusal and its kind; every count it returns
 * stays within what it was given. */
#include "fuzz.h"

#include "http_framing.h"

/* Request ends found (offsets into the stream), and how the reading ended. */
typedef struct reading {
    size_t ends[64];
    size_t nends;
    int refused;
    sr_http_refusal why;
    size_t refused_at; /* offset of the feed that refused */
} reading;

static void read_stream(const char *p, size_t n, unsigned piece, reading *r) {
    sr_http_framing f;
    sr_http_framing_init(&f);
    memset(r, 0, sizeof *r);
    size_t off = 0;
    unsigned k = 0;
    while (off < n) {
        size_t want = piece ? 1 + (piece >> (k++ % 8) & 7) : n - off;
        if (want > n - off)
            want = n - off;
        int done = 0;
        long used = sr_http_framing_feed(&f, p + off, want, &done);
        if (used < 0) {
            r->refused = 1;
            r->why = sr_http_framing_refusal(&f);
            FZ_ASSERT(r->why < SR_HTTP_REFUSED_KINDS);
            return;
        }
        FZ_ASSERT((size_t)used <= want);
        FZ_ASSERT(done || (size_t)used == want);
        off += (size_t)used;
        if (done) {
            if (r->nends < sizeof r->ends / sizeof *r->ends)
                r->ends[r->nends++] = off;
            else
                return; /* enough requests compared */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {data, size};
    unsigned piece = fz_byte(&in) | 1;
    reading whole, pieces;
    read_stream((const char *)in.p, in.n, 0, &whole);
    read_stream((const char *)in.p, in.n, piece, &pieces);
    FZ_ASSERT(whole.nends == pieces.nends);
    FZ_ASSERT(memcmp(whole.ends, pieces.ends, whole.nends * sizeof *whole.ends) == 0);
    FZ_ASSERT(whole.refused == pieces.refused);
    if (whole.refused)
        FZ_ASSERT(whole.why == pieces.why);
    return 0;
}
