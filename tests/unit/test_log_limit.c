/* test_log_limit.c - bursts per key and window, and the count of lines held
 * back reported with the next line written. */
#include "check.h"
#include "log_limit.h"

static int allow(sr_log_limit *l, const char *key, uint64_t now, uint64_t *held) {
    return sr_log_limit_allow_at(l, key, strlen(key), now, held);
}

int main(void) {
    sr_log_limit *l = sr_log_limit_new(3, 1000);
    CHECK(l != NULL);
    uint64_t held = 99;
    int written = 0;
    for (int i = 0; i < 750; i++)
        written += allow(l, "script|a.lua:6", 5000, &held);
    CHECK_INT(written, 3);

    /* another key has its own burst */
    CHECK_INT(allow(l, "script|b.lua:1", 5000, &held), 1);
    CHECK_INT(held, 0);

    /* still inside the window: held back, counted */
    CHECK_INT(allow(l, "script|a.lua:6", 5999, &held), 0);
    /* the next window: written, with all 748 held back so far */
    CHECK_INT(allow(l, "script|a.lua:6", 6000, &held), 1);
    CHECK_INT(held, 748);
    CHECK_INT(allow(l, "script|a.lua:6", 6001, &held), 1);
    CHECK_INT(held, 0);

    /* many keys: those that find no slot are always written */
    char key[32];
    int all = 1;
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        all &= allow(l, key, 7000, &held);
    }
    CHECK(all);
    sr_log_limit_free(l);
    return CHECK_DONE();
}
