/* http_refusal.h - the kinds of request the HTTP server refuses by itself.
 *
 * Every refusal the server (http_server.h) or its strict framing lexer
 * (http_framing.h) makes has one kind. The server counts each kind per
 * listener (sr_http_server_stats) and the admin API exports the counts as
 * siemrelay_http_refused_total{listener,reason}, `reason` being the name
 * below. Names are stable: dashboards and alerts use them. */
#ifndef SR_HTTP_REFUSAL_H
#define SR_HTTP_REFUSAL_H

typedef enum sr_http_refusal {
    SR_HTTP_REFUSED_MALFORMED,         /* 400: http-parser refused the request */
    SR_HTTP_REFUSED_BAD_LINE,          /* 400: bare CR or LF, control byte in the request line */
    SR_HTTP_REFUSED_BAD_FIELD_NAME,    /* 400: not a token, e.g. whitespace before the colon */
    SR_HTTP_REFUSED_BAD_FIELD_VALUE,   /* 400: control character in a field value */
    SR_HTTP_REFUSED_OBS_FOLD,          /* 400: obsolete line folding */
    SR_HTTP_REFUSED_CL_AND_TE,         /* 400: both Content-Length and Transfer-Encoding */
    SR_HTTP_REFUSED_BAD_CL,            /* 400: Content-Length not digits, or given twice */
    SR_HTTP_REFUSED_TE_HTTP10,         /* 400: Transfer-Encoding in an HTTP/1.0 request */
    SR_HTTP_REFUSED_TE_UNSUPPORTED,    /* 501: a transfer coding other than one "chunked" */
    SR_HTTP_REFUSED_BAD_CHUNK,         /* 400: malformed chunk size line or extension */
    SR_HTTP_REFUSED_FRAMING_MISMATCH,  /* 400: the lexer and http-parser disagree on the end */
    SR_HTTP_REFUSED_TIMEOUT,           /* 408: request not completed in time */
    SR_HTTP_REFUSED_HEADER_TIMEOUT,    /* 408: head not complete within header_timeout */
    SR_HTTP_REFUSED_BODY_TOO_SLOW,     /* 408: body below its minimum progress */
    SR_HTTP_REFUSED_TOO_LARGE,         /* 413: body beyond max_body */
    SR_HTTP_REFUSED_HEADERS_TOO_LARGE, /* 431 */
    SR_HTTP_REFUSED_EXPECTATION,       /* 417 */
    SR_HTTP_REFUSED_UPGRADE,           /* 501: protocol upgrade */
    SR_HTTP_REFUSED_CONNECTIONS,       /* connection closed at accept: a limit (conn_guard.h) */
    SR_HTTP_REFUSED_NO_MEMORY,         /* 500 */
    SR_HTTP_REFUSED_BODY_BUDGET,       /* 503: max_body_total reached */
    SR_HTTP_REFUSED_UNAUTHORIZED,      /* 401 on the head: no or a wrong credential */
    SR_HTTP_REFUSED_RATE_LIMITED,      /* 429 on the head: too many failed authentications */
    SR_HTTP_REFUSED_CROSS_ORIGIN,      /* 403 on the head: a browser's cross-origin post */
    SR_HTTP_REFUSED_MISDIRECTED, /* 421: Host names neither the listener nor an allowed name */
    SR_HTTP_REFUSED_BAD_HOST,    /* 400: Host missing (HTTP/1.1), repeated or malformed */
    SR_HTTP_REFUSED_KINDS
} sr_http_refusal;

/* "obs_fold", "bad_chunk", ...: the metric label. */
const char *sr_http_refusal_name(sr_http_refusal r);

/* The status answered (0 for refusals without an answer). */
int sr_http_refusal_status(sr_http_refusal r);

/* The {"error":...} text answered, e.g. "obsolete line folding". */
const char *sr_http_refusal_message(sr_http_refusal r);

#endif
