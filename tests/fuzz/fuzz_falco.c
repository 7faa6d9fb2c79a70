/* fuzz_falco.c - the Falco normaliser (runtime/event/falco.c) on arbitrary
 * JSON.
 *
 * Valid JSON objects that look like Falco output (no "type"; "rule",
 * "priority", "output") are normalised; what comes out must be one valid
 * JSON object that parses as a policy event, severity in Sysdig's range,
 * and normalising the same input twice gives the same bytes (the id is a
 * digest of the input, so retries deduplicate). */
#include "fuzz.h"

#include "arena.h"
#include "buf.h"
#include "event.h"
#include "falco.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data;
    sr_json_error err;
    /* The normaliser takes a validated object without surrounding
     * whitespace, as the event parser hands it over. */
    sr_buf doc = SR_BUF_INIT;
    if (sr_json_validate(p, size, 0, &err) != 0 || sr_json_compact(p, size, &doc) != 0 ||
        doc.data[0] != '{' || !sr_falco_detect(doc.data, doc.len)) {
        sr_buf_free(&doc);
        return 0;
    }
    sr_buf out = SR_BUF_INIT, again = SR_BUF_INIT;
    if (sr_falco_normalize(doc.data, doc.len, &out, &err) == 0) {
        FZ_ASSERT(sr_json_validate(out.data, out.len, 0, &err) == 0);
        FZ_ASSERT(sr_falco_normalize(doc.data, doc.len, &again, &err) == 0);
        FZ_ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);

        sr_arena arena;
        sr_arena_init(&arena, 0);
        sr_event ev;
        sr_event_limits limits = {.max_depth = 0, .max_fields = 4096};
        FZ_ASSERT(sr_event_parse(&ev, &arena, out.data, out.len, &limits, &err) == 0);
        FZ_ASSERT(ev.data_type == SR_DT_POLICY);
        FZ_ASSERT(ev.severity == SR_SEVERITY_NONE || (ev.severity >= 0 && ev.severity <= 7));
        sr_arena_free(&arena);
    } else {
        FZ_ASSERT(err.offset <= doc.len);
    }
    /* The same bytes through the event parser take the same path. */
    sr_arena arena;
    sr_arena_init(&arena, 0);
    sr_event ev;
    sr_event_parse(&ev, &arena, p, size, NULL, &err);
    sr_arena_free(&arena);
    sr_buf_free(&out);
    sr_buf_free(&again);
    sr_buf_free(&doc);
    return 0;
}
