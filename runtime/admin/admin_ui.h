/* admin_ui.h - the integrations page, served by the admin listener.
 *
 * The files under web/ (HTML, CSS, plain JavaScript; no framework, no CDN)
 * are compiled into the binary: cmake/embed_web.cmake turns them into
 * sr_ui_assets at build time, so the page works offline and always matches
 * the API it talks to.
 *
 *   GET /            web/index.html
 *   GET /ui/         web/index.html
 *   GET /ui/<file>   web/<file>
 *
 * Answers carry the file's Content-Type, an ETag (a hash of the file) with
 * `Cache-Control: no-cache` (browsers revalidate and get 304 when nothing
 * changed), and headers that keep the page to itself: a Content Security
 * Policy allowing only its own origin, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`. The page needs
 * no token to load; it asks for one and sends it with every API call. */
#ifndef SR_ADMIN_UI_H
#define SR_ADMIN_UI_H

#include <stddef.h>

#include "http_server.h"

typedef struct sr_ui_asset {
    const char *name; /* path under web/, e.g. "app.js" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted */
} sr_ui_asset;

extern const sr_ui_asset sr_ui_assets[];
extern const size_t sr_ui_nassets;

/* The asset a request path names, or NULL (not a page path, or no such
 * file). */
const sr_ui_asset *sr_admin_ui_find(const char *path);

/* True when `path` belongs to the page ("/" or under "/ui/"). */
int sr_admin_ui_path(const char *path);

/* Answers GET/HEAD for a page path: 200, 304 or 404. */
void sr_admin_ui_serve(const sr_http_request *req, sr_http_response *resp);

/* "text/html; charset=utf-8" and so on, from the file name. */
const char *sr_admin_ui_content_type(const char *name);

#endif
