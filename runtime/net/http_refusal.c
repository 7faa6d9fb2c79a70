/* http_refusal.c - names, statuses and messages of the server's refusals. */
#include "http_refusal.h"

typedef struct refusal_info {
    const char *name;
    int status;
    const char *message;
} refusal_info;

static const refusal_info infos[SR_HTTP_REFUSED_KINDS] = {
    [SR_HTTP_REFUSED_MALFORMED] = {"malformed", 400, "malformed request"},
    [SR_HTTP_REFUSED_BAD_LINE] = {"bad_line", 400, "malformed line (bare CR or LF, control byte)"},
    [SR_HTTP_REFUSED_BAD_FIELD_NAME] = {"bad_field_name", 400, "malformed header field name"},
    [SR_HTTP_REFUSED_BAD_FIELD_VALUE] = {"bad_field_value", 400,
                                         "control character in a header field value"},
    [SR_HTTP_REFUSED_OBS_FOLD] = {"obs_fold", 400, "obsolete line folding"},
    [SR_HTTP_REFUSED_CL_AND_TE] = {"cl_and_te", 400, "both Content-Length and Transfer-Encoding"},
    [SR_HTTP_REFUSED_BAD_CL] = {"bad_content_length", 400, "invalid or repeated Content-Length"},
    [SR_HTTP_REFUSED_TE_HTTP10] = {"te_http10", 400, "Transfer-Encoding in an HTTP/1.0 request"},
    [SR_HTTP_REFUSED_TE_UNSUPPORTED] = {"te_unsupported", 501, "unsupported transfer coding"},
    [SR_HTTP_REFUSED_BAD_CHUNK] = {"bad_chunk", 400, "malformed chunk size or extension"},
    [SR_HTTP_REFUSED_FRAMING_MISMATCH] = {"framing_mismatch", 400, "ambiguous message framing"},
    [SR_HTTP_REFUSED_TIMEOUT] = {"timeout", 408, "request not completed in time"},
    [SR_HTTP_REFUSED_HEADER_TIMEOUT] = {"header_timeout", 408,
                                        "request head not completed in time"},
    [SR_HTTP_REFUSED_BODY_TOO_SLOW] = {"body_too_slow", 408, "request body arriving too slowly"},
    [SR_HTTP_REFUSED_TOO_LARGE] = {"too_large", 413, "request body too large"},
    [SR_HTTP_REFUSED_HEADERS_TOO_LARGE] = {"headers_too_large", 431, "header section too large"},
    [SR_HTTP_REFUSED_EXPECTATION] = {"expectation", 417, "unsupported expectation"},
    [SR_HTTP_REFUSED_UPGRADE] = {"upgrade", 501, "protocol upgrade not supported"},
    [SR_HTTP_REFUSED_CONNECTIONS] = {"connections", 0, "too many connections"},
    [SR_HTTP_REFUSED_NO_MEMORY] = {"no_memory", 500, "out of memory"},
    [SR_HTTP_REFUSED_BODY_BUDGET] = {"body_budget", 503,
                                     "too many request bodies in progress; retry later"},
    [SR_HTTP_REFUSED_UNAUTHORIZED] = {"unauthorized", 401, "missing or invalid credentials"},
    [SR_HTTP_REFUSED_RATE_LIMITED] = {"rate_limited", 429,
                                      "too many failed authentications; retry later"},
    [SR_HTTP_REFUSED_CROSS_ORIGIN] = {"cross_origin", 403,
                                      "cross-origin requests from browsers are not accepted"},
    [SR_HTTP_REFUSED_MISDIRECTED] = {"misdirected", 421,
                                     "the Host header names neither this listener nor an allowed "
                                     "host name"},
    [SR_HTTP_REFUSED_BAD_HOST] = {"bad_host", 400, "missing, repeated or malformed Host header"},
};

const char *sr_http_refusal_name(sr_http_refusal r) {
    return (unsigned)r < SR_HTTP_REFUSED_KINDS ? infos[r].name : "unknown";
}

int sr_http_refusal_status(sr_http_refusal r) {
    return (unsigned)r < SR_HTTP_REFUSED_KINDS ? infos[r].status : 400;
}

const char *sr_http_refusal_message(sr_http_refusal r) {
    return (unsigned)r < SR_HTTP_REFUSED_KINDS ? infos[r].message : "bad request";
}
