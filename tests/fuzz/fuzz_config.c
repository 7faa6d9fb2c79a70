/* fuzz_config.c - the YAML configuration loader (runtime/base/yaml_load.c,
 * runtime/config/) with Sysdig's formats, on arbitrary files.
 *
 * Input: a selector byte, then up to two files separated by a NUL byte,
 * written as dragent.yaml and local_forwarder_config.yaml of a scratch
 * directory. The selector says how they are named to the loader, as an
 * operator would: the directory (the agent's layout), the first file alone
 * (which brings its sibling when it is a dragent.yaml), or both files in
 * either order. What must hold: loading succeeds or fails with a message
 * naming a file; a loaded configuration prints its settings (what --check
 * shows) as valid JSON; the configuration frees cleanly either way. */
#include "fuzz.h"

#include <unistd.h>

#include "agent_files.h"
#include "buf.h"
#include "config.h"
#include "json.h"
#include "log.h"

static char dir[256], dragent[300], lfc[300];

static void cleanup(void) {
    unlink(dragent);
    unlink(lfc);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    fz_scratch_dir(dir, sizeof dir, "fuzz_config", cleanup);
    snprintf(dragent, sizeof dragent, "%s/dragent.yaml", dir);
    snprintf(lfc, sizeof lfc, "%s/local_forwarder_config.yaml", dir);
    /* Warnings about ignored agent keys are expected by the thousand. */
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_input in = {data, size};
    unsigned sel = fz_byte(&in);
    size_t n1, n2;
    int two = memchr(in.p, 0, in.n) != NULL;
    const char *f1 = fz_until(&in, '\0', &n1);
    const char *f2 = fz_until(&in, '\0', &n2);
    fz_write_file(dragent, f1, n1);
    if (two)
        fz_write_file(lfc, f2, n2);
    else
        unlink(lfc);

    const char *named[2];
    size_t nnamed;
    switch (sel % 4) {
    case 0: named[0] = dir, nnamed = 1; break;
    case 1: named[0] = dragent, nnamed = 1; break;
    case 2: named[0] = dragent, named[1] = lfc, nnamed = two ? 2 : 1; break;
    default: named[0] = lfc, named[1] = dragent, nnamed = 2; break;
    }
    if (!two && sel % 4 == 3)
        named[0] = dragent, nnamed = 1;

    char err[1024] = "";
    sr_agent_files files = {0};
    if (sr_agent_files_expand(named, nnamed, &files, err, sizeof err) != 0) {
        FZ_ASSERT(err[0] != '\0');
        sr_agent_files_free(&files);
        return 0;
    }
    sr_config cfg;
    if (sr_config_load(&cfg, (const char *const *)files.paths, files.n, err, sizeof err) == 0) {
        sr_buf out = SR_BUF_INIT;
        sr_json_error jerr;
        sr_config_print_settings(&cfg, &out);
        FZ_ASSERT(out.len > 0 && sr_json_validate(out.data, out.len, 0, &jerr) == 0);
        sr_buf_free(&out);
    } else {
        FZ_ASSERT(strstr(err, dir) != NULL);
    }
    sr_config_free(&cfg);
    sr_agent_files_free(&files);
    return 0;
}
