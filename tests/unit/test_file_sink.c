/* test_file_sink.c - the rotating line writer and the FILE sink over it.
 *
 * Everything happens under a fresh mkdtemp directory, removed at the end.
 * Write errors come from /dev/full (ENOSPC on every write) and open errors
 * from a path whose "directory" is a regular file: both fail even as root. */
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "rotating_file.h"
#include "file.h"

static char tmpdir[64];

/* ---- helpers ------------------------------------------------------------ */

static char *path_of(const char *name) {
    static char buf[8][256];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

/* The file's contents, or "(missing)". The caller frees. */
static char *slurp(const char *path) {
    char *data = check_read_file(path, NULL);
    return data ? data : strdup("(missing)");
}

#define CHECK_FILE(path, want)                                                                     \
    do {                                                                                           \
        char *got_ = slurp(path);                                                                  \
        CHECK_STR(got_, want);                                                                     \
        free(got_);                                                                                \
    } while (0)

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Appends string records given as a NULL-terminated list. */
static int append_strs(sr_rotating_file *f, const char *const *recs, char *err, size_t errlen) {
    uint32_t lens[16];
    size_t n = 0;
    for (; recs[n]; n++)
        lens[n] = (uint32_t)strlen(recs[n]);
    return sr_rotating_file_append(f, recs, lens, n, err, errlen);
}

#define APPEND(f, ...) append_strs(f, (const char *const[]){__VA_ARGS__, NULL}, err, sizeof err)

/* ---- rotating_file ------------------------------------------------------ */

static void test_lines_and_parents(void) {
    char err[256] = "";
    const char *path = path_of("a/b/c/out.log");
    sr_rotating_file *f = sr_rotating_file_open(path, 0, 5, err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0640 & ~(mode_t)022));
    CHECK(stat(path_of("a/b/c"), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INT(APPEND(f, "one", "two", "", "{\"x\":1}"), 0);
    CHECK_INT(sr_rotating_file_append_line(f, "tail", 4, err, sizeof err), 0);
    CHECK_INT(sr_rotating_file_sync(f, err, sizeof err), 0);
    CHECK_INT(sr_rotating_file_size(f), 22);
    sr_rotating_file_close(f);
    CHECK_FILE(path, "one\ntwo\n\n{\"x\":1}\ntail\n");

    /* Reopening appends, and the existing bytes count towards rotation. */
    f = sr_rotating_file_open(path, 24, 1, err, sizeof err);
    CHECK_INT(sr_rotating_file_size(f), 22);
    CHECK_INT(APPEND(f, "more"), 0);
    CHECK_FILE(path_of("a/b/c/out.log.1"), "one\ntwo\n\n{\"x\":1}\ntail\n");
    CHECK_FILE(path, "more\n");
    sr_rotating_file_close(f);
}

static void test_rotation_naming(void) {
    char err[256] = "";
    const char *path = path_of("rot.log");
    sr_rotating_file *f = sr_rotating_file_open(path, 10, 2, err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(APPEND(f, "aaaa", "bbbb"), 0); /* exactly 10 bytes: no rotation */
    CHECK_FILE(path, "aaaa\nbbbb\n");
    CHECK(!exists(path_of("rot.log.1")));

    CHECK_INT(APPEND(f, "cccc"), 0);
    CHECK_FILE(path, "cccc\n");
    CHECK_FILE(path_of("rot.log.1"), "aaaa\nbbbb\n");

    /* A rotation in the middle of one call. */
    CHECK_INT(APPEND(f, "dddd", "eeee"), 0);
    CHECK_FILE(path, "eeee\n");
    CHECK_FILE(path_of("rot.log.1"), "cccc\ndddd\n");
    CHECK_FILE(path_of("rot.log.2"), "aaaa\nbbbb\n");

    /* keep_files 2: the oldest (aaaa/bbbb) is gone, no rot.log.3. */
    CHECK_INT(APPEND(f, "ffff", "gggg"), 0);
    CHECK_FILE(path, "gggg\n");
    CHECK_FILE(path_of("rot.log.1"), "eeee\nffff\n");
    CHECK_FILE(path_of("rot.log.2"), "cccc\ndddd\n");
    CHECK(!exists(path_of("rot.log.3")));
    sr_rotating_file_close(f);
}

static void test_rotation_edges(void) {
    char err[256] = "";
    /* A line longer than rotate_bytes gets a file to itself. */
    const char *big = path_of("big.log");
    sr_rotating_file *f = sr_rotating_file_open(big, 4, 1, err, sizeof err);
    CHECK_INT(APPEND(f, "123456789"), 0);
    CHECK_FILE(big, "123456789\n");
    CHECK_INT(APPEND(f, "x", "y"), 0);
    CHECK_FILE(path_of("big.log.1"), "123456789\n");
    CHECK_FILE(big, "x\ny\n");
    sr_rotating_file_close(f);

    /* keep_files 0: rotated data is deleted. */
    const char *none = path_of("none.log");
    f = sr_rotating_file_open(none, 6, 0, err, sizeof err);
    CHECK_INT(APPEND(f, "abc", "def"), 0);
    CHECK_FILE(none, "def\n");
    CHECK(!exists(path_of("none.log.1")));
    sr_rotating_file_close(f);

    /* 0 = never rotate. */
    const char *never = path_of("never.log");
    f = sr_rotating_file_open(never, 0, 3, err, sizeof err);
    for (int i = 0; i < 100; i++)
        APPEND(f, "0123456789");
    CHECK_INT(sr_rotating_file_size(f), 1100);
    CHECK(!exists(path_of("never.log.1")));
    sr_rotating_file_close(f);
}

static void test_rotating_errors(void) {
    char err[256] = "";
    const char *plain = path_of("plain");
    FILE *fp = fopen(plain, "w");
    fclose(fp);

    const char *under = path_of("plain/sub/x.log");
    CHECK(sr_rotating_file_open(under, 0, 5, err, sizeof err) == NULL);
    CHECK(strstr(err, path_of("plain/sub")) != NULL);
    CHECK(strstr(err, "Not a directory") != NULL);

    CHECK(sr_rotating_file_open("", 0, 5, err, sizeof err) == NULL);
    CHECK(sr_rotating_file_open(path_of("neg.log"), 0, -1, err, sizeof err) == NULL);

    sr_rotating_file *f = sr_rotating_file_open("/dev/full", 0, 5, err, sizeof err);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_INT(APPEND(f, "lost"), -1);
    CHECK_STR(err, "write /dev/full: No space left on device");
    sr_rotating_file_close(f);
}

/* A write that stops part-way (here at RLIMIT_FSIZE: a short write, then
 * EFBIG) leaves no torn line: the file is cut back to where the call began. */
static void test_failed_append_is_undone(void) {
    char err[256] = "";
    const char *path = path_of("limited.log");
    sr_rotating_file *f = sr_rotating_file_open(path, 0, 5, err, sizeof err);
    CHECK_INT(APPEND(f, "kept"), 0);

    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1000;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    char rec[600];
    memset(rec, 'z', sizeof rec);
    const char *recs[] = {rec, rec};
    uint32_t lens[] = {sizeof rec, sizeof rec};
    CHECK_INT(sr_rotating_file_append(f, recs, lens, 2, err, sizeof err), -1);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);

    CHECK(strstr(err, path) != NULL && strstr(err, "File too large") != NULL);
    CHECK_INT(sr_rotating_file_size(f), 5);
    CHECK_INT(APPEND(f, "next"), 0);
    CHECK_FILE(path, "kept\nnext\n");
    sr_rotating_file_close(f);
}

/* ---- the FILE sink ------------------------------------------------------ */

typedef struct outcome {
    int calls;
    int order[8];
    int ok[8];
    long status[8], retry_after[8];
    double latency[8];
    char error[8][256];
    sr_sink *close_in_cb; /* closed from the first callback */
} outcome;

typedef struct tag {
    outcome *o;
    int id;
} tag;

static void on_done(void *ud, const sr_sink_result *res) {
    tag *t = ud;
    outcome *o = t->o;
    int i = o->calls++;
    if (i >= 8)
        return;
    o->order[i] = t->id;
    o->ok[i] = res->transport_ok;
    o->status[i] = res->status;
    o->retry_after[i] = res->retry_after_ms;
    o->latency[i] = res->latency_ms;
    snprintf(o->error[i], sizeof o->error[i], "%s", res->error);
    if (o->close_in_cb) {
        sr_sink_close(o->close_in_cb);
        o->close_in_cb = NULL;
    }
}

/* Sends string records; the payload lives on this stack frame only, so the
 * sink must have copied it. */
static int send_strs(sr_sink *s, const char *const *recs, tag *t) {
    char *copies[16];
    uint32_t lens[16];
    size_t n = 0;
    for (; recs[n]; n++) {
        copies[n] = strdup(recs[n]);
        lens[n] = (uint32_t)strlen(recs[n]);
    }
    sr_sink_payload p = {.recs = (const char *const *)copies, .lens = lens, .n = n};
    int rc = sr_sink_send(s, &p, on_done, t);
    for (size_t i = 0; i < n; i++) {
        memset(copies[i], '#', lens[i]);
        free(copies[i]);
    }
    return rc;
}

#define SEND(s, t, ...) send_strs(s, (const char *const[]){__VA_ARGS__, NULL}, t)

static void finish_loop(uv_loop_t *loop) {
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(loop), 0);
}

static void test_sink_order(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    const char *path = path_of("sink/new/dir/events.jsonl");
    sr_file_settings set = {.path = path, .rotate_bytes = 0, .keep_files = 5};
    sr_sink *s = sr_file_sink_new(&loop, &set, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_STR(s->ops->name, "file");
    outcome o = {0};
    tag t[4] = {{&o, 0}, {&o, 1}, {&o, 2}, {&o, 3}};
    CHECK_INT(SEND(s, &t[0], "{\"n\":1}", "{\"n\":2}"), 0);
    CHECK_INT(SEND(s, &t[1], "{\"n\":3}"), 0);
    CHECK_INT(SEND(s, &t[2], "{\"n\":4}", "{\"n\":5}", "{\"n\":6}"), 0);
    sr_sink_payload empty = {0};
    CHECK_INT(sr_sink_send(s, &empty, on_done, &t[3]), 0);
    CHECK_INT(o.calls, 0); /* never from inside send() */
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(o.calls, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(o.order[i], i);
        CHECK_INT(o.ok[i], 1);
        CHECK_INT(o.status[i], 0);
        CHECK_INT(o.retry_after[i], -1);
        CHECK_STR(o.error[i], "");
        CHECK(o.latency[i] >= 0);
    }
    CHECK_FILE(path, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n{\"n\":6}\n");
    sr_sink_close(s);
    finish_loop(&loop);
}

static void test_sink_rotation(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    const char *path = path_of("sinkrot.log");
    sr_file_settings set = {.path = path, .rotate_bytes = 8, .keep_files = 2};
    sr_sink *s = sr_file_sink_new(&loop, &set, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    outcome o = {0};
    tag t = {&o, 0};
    SEND(s, &t, "aaa", "bbb");
    SEND(s, &t, "ccc", "ddd");
    SEND(s, &t, "eee", "fff");
    SEND(s, &t, "ggg");
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(o.calls, 4);
    CHECK_FILE(path, "ggg\n");
    CHECK_FILE(path_of("sinkrot.log.1"), "eee\nfff\n");
    CHECK_FILE(path_of("sinkrot.log.2"), "ccc\nddd\n");
    CHECK(!exists(path_of("sinkrot.log.3")));
    sr_sink_close(s);
    finish_loop(&loop);
}

/* An unusable path fails creation; a failing write fails the batch through
 * the callback. */
static void test_sink_errors(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    sr_file_settings none = {0};
    CHECK(sr_file_sink_new(&loop, &none, err, sizeof err) == NULL);
    CHECK(strstr(err, "path") != NULL);

    const char *bad = path_of("plain/events.jsonl"); /* "plain" is a file */
    sr_file_settings set = {.path = bad, .keep_files = 5};
    CHECK(sr_file_sink_new(&loop, &set, err, sizeof err) == NULL);
    CHECK(strstr(err, bad) != NULL);
    CHECK(strstr(err, "Not a directory") != NULL);

    sr_file_settings full = {.path = "/dev/full", .keep_files = 5};
    sr_sink *s = sr_file_sink_new(&loop, &full, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    outcome o = {0};
    tag t[2] = {{&o, 0}, {&o, 1}};
    SEND(s, &t[0], "x");
    SEND(s, &t[1], "y");
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(o.calls, 2);
    CHECK_INT(o.ok[0], 0);
    CHECK_STR(o.error[0], "write /dev/full: No space left on device");
    CHECK_INT(o.ok[1], 0);
    CHECK_INT(o.order[1], 1);
    sr_sink_close(s);
    finish_loop(&loop);
}

/* close() with one batch on the threadpool and more waiting: no callback,
 * nothing leaked (LSan), and the loop ends with no handle or request left. */
static void test_sink_close_in_flight(void) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    sr_file_settings set = {.path = path_of("closing.log"), .keep_files = 5};
    sr_sink *s = sr_file_sink_new(&loop, &set, err, sizeof err);
    CHECK(s != NULL);
    if (!s)
        return;
    outcome o = {0};
    tag t = {&o, 0};
    for (int i = 0; i < 5; i++)
        SEND(s, &t, "pending");
    sr_sink_close(s);
    finish_loop(&loop);
    CHECK_INT(o.calls, 0);

    /* Closed from a callback: later batches are abandoned. */
    uv_loop_init(&loop);
    s = sr_file_sink_new(&loop, &set, err, sizeof err);
    outcome o2 = {.close_in_cb = s};
    tag t2 = {&o2, 0};
    for (int i = 0; i < 3; i++)
        SEND(s, &t2, "again");
    finish_loop(&loop);
    CHECK_INT(o2.calls, 1);
    CHECK_INT(o2.ok[0], 1);
}

/* Confined to a root (admin-API integrations): no link, no "..", nothing
 * outside, no file it did not create written or rotated away; its own
 * files stay its own across a reopen. */
static void test_confined(void) {
    char err[512], root[256], own[256];
    snprintf(root, sizeof root, "%s", path_of("root")); /* path_of's buffers are reused */
    CHECK(mkdir(root, 0750) == 0);
    CHECK(mkdir(path_of("outside"), 0750) == 0);
    CHECK(symlink(path_of("outside"), path_of("root/linkdir")) == 0);
    CHECK(symlink(path_of("outside/t.log"), path_of("root/link.log")) == 0);

    CHECK(sr_rotating_file_open_confined(root, path_of("outside/x.log"), 0, 1, err, sizeof err) ==
          NULL);
    CHECK(strstr(err, "is outside") != NULL);
    CHECK(sr_rotating_file_open_confined(root, "a/../../outside/x.log", 0, 1, err, sizeof err) ==
          NULL);
    CHECK(strstr(err, "'..'") != NULL);
    CHECK(sr_rotating_file_open_confined(root, "linkdir/x.log", 0, 1, err, sizeof err) == NULL);
    CHECK(strstr(err, "symbolic link") != NULL);
    CHECK(sr_rotating_file_open_confined(root, "link.log", 0, 1, err, sizeof err) == NULL);
    CHECK(strstr(err, "symbolic link") != NULL);
    CHECK(!exists(path_of("outside/x.log")) && !exists(path_of("outside/t.log")));

    /* Someone else's file: refused, untouched. */
    FILE *fp = fopen(path_of("root/theirs.log"), "w");
    CHECK(fp != NULL);
    fputs("theirs\n", fp);
    fclose(fp);
    CHECK(sr_rotating_file_open_confined(root, "theirs.log", 1, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "was not created by siemrelay") != NULL);
    CHECK_FILE(path_of("root/theirs.log"), "theirs\n");

    /* Its own file, absolute under the root, in a new directory: rotated
     * away with keep_files 0, reopened after a close. */
    snprintf(own, sizeof own, "%s", path_of("root/d/own.log"));
    sr_rotating_file *f = sr_rotating_file_open_confined(root, own, 4, 0, err, sizeof err);
    CHECK(f != NULL);
    CHECK(append_strs(f, (const char *const[]){"one", "two", NULL}, err, sizeof err) == 0);
    CHECK_FILE(own, "two\n");
    sr_rotating_file_close(f);
    f = sr_rotating_file_open_confined(root, "d/./own.log", 0, 1, err, sizeof err);
    CHECK(f != NULL);
    CHECK(append_strs(f, (const char *const[]){"three", NULL}, err, sizeof err) == 0);
    CHECK_FILE(own, "two\nthree\n");
    sr_rotating_file_close(f);

    /* A rotation that would replace a file it did not create fails, and
     * the file stays. */
    fp = fopen(path_of("root/r.log.1"), "w");
    CHECK(fp != NULL);
    fputs("keep me\n", fp);
    fclose(fp);
    f = sr_rotating_file_open_confined(root, "r.log", 4, 1, err, sizeof err);
    CHECK(f != NULL);
    CHECK(append_strs(f, (const char *const[]){"aaa", NULL}, err, sizeof err) == 0);
    CHECK(append_strs(f, (const char *const[]){"bbb", NULL}, err, sizeof err) == -1);
    CHECK(strstr(err, "would replace r.log.1, which siemrelay did not create") != NULL);
    CHECK_FILE(path_of("root/r.log.1"), "keep me\n");
    /* ... and works once that file is gone (the way out). */
    CHECK(unlink(path_of("root/r.log.1")) == 0);
    CHECK(append_strs(f, (const char *const[]){"bbb", NULL}, err, sizeof err) == 0);
    CHECK_FILE(path_of("root/r.log.1"), "aaa\n");
    CHECK_FILE(path_of("root/r.log"), "bbb\n");
    sr_rotating_file_close(f);

    /* The sink takes the root from its settings. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    sr_file_settings set = {.path = "linkdir/s.log", .keep_files = 1, .root = root};
    CHECK(sr_file_sink_new(&loop, &set, err, sizeof err) == NULL);
    CHECK(strstr(err, "symbolic link") != NULL);
    set.path = "s.log";
    sr_sink *s = sr_file_sink_new(&loop, &set, err, sizeof err);
    CHECK(s != NULL);
    sr_sink_close(s);
    CHECK(exists(path_of("root/s.log")));
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sr-file-sink-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    umask(022);
    test_lines_and_parents();
    test_rotation_naming();
    test_rotation_edges();
    test_rotating_errors();
    test_failed_append_is_undone();
    test_sink_order();
    test_sink_rotation();
    test_sink_errors();
    test_sink_close_in_flight();
    test_confined();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
