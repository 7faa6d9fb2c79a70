/* admin_ui.c - the integrations page's files, from the compiled-in table. */
#include "admin_ui.h"

#include <string.h>

#define UI_PREFIX "/ui/"

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *sr_admin_ui_content_type(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++) {
        size_t e = strlen(content_types[i].ext);
        if (n > e && strcmp(name + n - e, content_types[i].ext) == 0)
            return content_types[i].type;
    }
    return "application/octet-stream";
}

int sr_admin_ui_path(const char *path) {
    return strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 ||
           strncmp(path, UI_PREFIX, sizeof UI_PREFIX - 1) == 0;
}

const sr_ui_asset *sr_admin_ui_find(const char *path) {
    const char *name;
    if (strcmp(path, "/") == 0 || strcmp(path, "/ui") == 0 || strcmp(path, UI_PREFIX) == 0)
        name = "index.html";
    else if (strncmp(path, UI_PREFIX, sizeof UI_PREFIX - 1) == 0)
        name = path + sizeof UI_PREFIX - 1;
    else
        return NULL;
    for (size_t i = 0; i < sr_ui_nassets; i++)
        if (strcmp(sr_ui_assets[i].name, name) == 0)
            return &sr_ui_assets[i];
    return NULL;
}

void sr_admin_ui_serve(const sr_http_request *req, sr_http_response *resp) {
    const sr_ui_asset *a = sr_admin_ui_find(req->path);
    if (!a) {
        sr_http_respond_error(resp, 404, "not found", NULL, 0);
        return;
    }
    const sr_http_header headers[] = {
        {"Cache-Control", "no-cache"},
        {"ETag", a->etag},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Frame-Options", "DENY"},
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
    };
    size_t nheaders = sizeof headers / sizeof headers[0];
    const char *inm = sr_http_request_header(req, "If-None-Match");
    if (inm && strstr(inm, a->etag)) {
        sr_http_respond(resp, 304, NULL, headers, nheaders, NULL, 0);
        return;
    }
    sr_http_respond(resp, 200, sr_admin_ui_content_type(a->name), headers, nheaders,
                    (const char *)a->data, a->len);
}
