/* fuzz_http_server.c - HTTP request parsing as the inputs and the admin API
 * get it: arbitrary bytes sent to a real sr_http_server
 * (runtime/net/http_server.c: http-parser, the strict framing lexer, the
 * limits, the head handler) over loopback.
 *
 * The server runs on its own loop thread for the whole process, with small
 * limits so every refusal is reachable: 4 KiB bodies, 16 KiB of bodies in
 * flight, 16 connections. A request for /deny is refused on its head (as a
 * missing token is). Each input is one connection: the bytes are written,
 * the writing side shut, and everything the server answers is read until
 * it closes.
 *
 * What must hold: the server closes the connection within its timeouts
 * (never hangs), every answer is an HTTP/1.1 status line with a known
 * status, and a request the handler sees is complete (NUL after the body,
 * fields present). */
#include "fuzz.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "http_server.h"
#include "log.h"

static uv_loop_t loop;
static uv_thread_t thread;
static int port;

static void handler(void *ud, sr_http_request *req, sr_http_response *resp) {
    (void)ud;
    FZ_ASSERT(req->method && req->path && req->query && req->peer && req->peer_ip);
    FZ_ASSERT(req->body && req->body[req->body_len] == '\0');
    FZ_ASSERT(req->nheaders <= SR_HTTP_MAX_HEADERS);
    for (size_t i = 0; i < req->nheaders; i++)
        FZ_ASSERT(req->headers[i].name && req->headers[i].value);
    char body[64];
    int n = snprintf(body, sizeof body, "{\"bytes\":%zu}", req->body_len);
    sr_http_respond(resp, 200, "application/json", NULL, 0, body, (size_t)n);
}

static int head_handler(void *ud, sr_http_request *req, sr_http_response *resp) {
    (void)ud;
    if (strcmp(req->path, "/deny") != 0)
        return 0;
    FZ_ASSERT(req->body_len == 0);
    sr_http_respond_error(resp, 401, "no", NULL, 0);
    return 1;
}

static void loop_main(void *arg) {
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    sr_log_configure(SR_LOG_ERROR, SR_LOG_TEXT);
    FZ_ASSERT(uv_loop_init(&loop) == 0);
    char err[256];
    sr_http_server_conf conf = {
        .name = "fuzz.http",
        .host = "127.0.0.1",
        .port = 0,
        .max_body = 4096,
        .idle_timeout_ms = 2000,
        .limits = {.max_connections = 16},
        .max_body_total = 16384,
        .head_handler = head_handler,
    };
    sr_http_server *srv = sr_http_server_new(&loop, &conf, handler, NULL, err, sizeof err);
    if (!srv)
        fprintf(stderr, "%s\n", err);
    FZ_ASSERT(srv != NULL);
    port = sr_http_server_port(srv);
    FZ_ASSERT(uv_thread_create(&thread, loop_main, NULL) == 0);
    return 0;
}

static int known_status(int s) {
    static const int known[] = {100, 200, 400, 401, 408, 413, 417, 429, 431, 500, 501, 503};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (s == known[i])
            return 1;
    return 0;
}

/* Every status line in what the server sent: the answers to pipelined
 * requests follow each other. Bodies are JSON and never hold "HTTP/". */
static void check_answers(const char *p, size_t n) {
    if (n == 0)
        return;
    FZ_ASSERT(n >= 12 && memcmp(p, "HTTP/1.1 ", 9) == 0);
    for (const char *s = p; (s = memmem(s, n - (size_t)(s - p), "HTTP/1.1 ", 9));) {
        if ((size_t)(s - p) + 12 > n)
            break;
        int status = atoi(s + 9);
        if (!known_status(status))
            fprintf(stderr, "unexpected status %d\n", status);
        FZ_ASSERT(known_status(status));
        s += 9;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FZ_ASSERT(fd >= 0);
    struct timeval tv = {.tv_sec = 15};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FZ_ASSERT(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);

    size_t off = 0;
    while (off < size) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        /* libFuzzer's timer signal interrupts calls on sockets with a
         * timeout even under SA_RESTART (signal(7)). */
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            /* Refused and closed before reading all: the answer is still
             * to be read, unless the close reset the connection. */
            FZ_ASSERT(errno == EPIPE || errno == ECONNRESET);
            break;
        }
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);

    char *got = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            got = realloc(got, cap);
            FZ_ASSERT(got != NULL);
        }
        ssize_t r = recv(fd, got + len, cap - len, 0);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            /* A timeout here means the server neither answered nor closed. */
            if (errno != ECONNRESET)
                fprintf(stderr, "recv: %s\n", strerror(errno));
            FZ_ASSERT(errno == ECONNRESET);
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    check_answers(got, len);
    free(got);
    return 0;
}
