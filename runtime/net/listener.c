/* listener.c - accept loop with a spare descriptor (see listener.h). */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "log_limit.h"

/* One line per second at most about descriptors running out. */
#define FD_LOG_INTERVAL_MS 1000

struct sr_listener {
    uv_loop_t *loop;
    uv_poll_t poll;
    int fd;
    int spare; /* a descriptor kept to be given up when accept finds none; -1: none now */
    sr_listener_cbs cbs;
    void *ud;
    sr_listener_stats stats;
    sr_log_limit *fd_log; /* NULL (out of memory): every line is written */
    int closing;
    void (*close_cb)(void *ud);
    void *close_ud;
    char name[32];
};

static int open_spare(void) { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

static void log_fd_drop(sr_listener *l, int err) {
    uint64_t held = 0;
    if (l->fd_log && !sr_log_limit_allow_at(l->fd_log, "fd", 2, uv_now(l->loop), &held))
        return;
    sr_warn(l->name,
            "out of file descriptors (%s): a new connection closed at accept (%llu more since "
            "the last report, %llu in all); raise the descriptor limit or lower max_connections",
            strerror(err), (unsigned long long)held, (unsigned long long)l->stats.fd_dropped);
}

/* No descriptor left: free one from the owner's idle connections, or
 * refuse the pending connection through the spare. 1 when accepting may go
 * on now. */
static int relieve_fd_pressure(sr_listener *l, int err) {
    if (l->cbs.shed && l->cbs.shed(l->ud)) {
        l->stats.fd_shed++;
        return 1;
    }
    if (l->spare < 0 && (l->spare = open_spare()) < 0)
        return 0; /* not even that: the backlog waits for the next wake-up */
    close(l->spare);
    l->spare = -1;
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        l->stats.fd_dropped++;
        log_fd_drop(l, err);
    }
    l->spare = open_spare();
    return fd >= 0;
}

static void format_ip(const struct sockaddr_storage *ss, char *out, size_t len) {
    snprintf(out, len, "?");
    if (ss->ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)ss, out, len);
    else if (ss->ss_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)ss, out, len);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
    sr_listener *l = poll->data;
    (void)events;
    if (status < 0) {
        sr_warn(l->name, "listening socket: %s", uv_strerror(status));
        return;
    }
    for (int i = 0; i < SR_LISTENER_ACCEPT_BATCH && !l->closing; i++) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            char ip[INET6_ADDRSTRLEN];
            format_ip(&ss, ip, sizeof ip);
            l->stats.accepted++;
            l->cbs.on_accept(l->ud, fd, ip);
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK)
            return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO)
            continue; /* that connection is gone; others may wait */
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
            if (!relieve_fd_pressure(l, e))
                return;
            continue;
        }
        l->stats.accept_errs++;
        sr_warn(l->name, "accept: %s", strerror(e));
        return;
    }
}

static void format_endpoint(char *buf, size_t len, const char *host, int port) {
    if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%d", host, port);
    else
        snprintf(buf, len, "%s:%d", host, port);
}

/* A bound, listening, non-blocking socket, or -1 with `err` written. */
static int listen_socket(const char *host, int port, char *err, size_t errlen) {
    char where[300], service[16];
    struct addrinfo hints = {0}, *ai = NULL;
    format_endpoint(where, sizeof where, host, port);
    if (port < 0 || port > 65535) {
        snprintf(err, errlen, "cannot listen on %s: invalid port", where);
        return -1;
    }
    snprintf(service, sizeof service, "%d", port);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", where, gai_strerror(gai));
        return -1;
    }
    int one = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", where, uv_strerror(-errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

sr_listener *sr_listener_new(uv_loop_t *loop, const char *name, const char *host, int port,
                             const sr_listener_cbs *cbs, void *ud, char *err, size_t errlen) {
    sr_listener *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->loop = loop;
    l->cbs = *cbs;
    l->ud = ud;
    snprintf(l->name, sizeof l->name, "%s", name ? name : "listener");
    l->fd_log = sr_log_limit_new(1, FD_LOG_INTERVAL_MS);
    l->spare = open_spare();
    if ((l->fd = listen_socket(host, port, err, errlen)) < 0)
        goto fail;
    int rc = uv_poll_init_socket(loop, &l->poll, l->fd);
    if (rc < 0) {
        snprintf(err, errlen, "cannot watch the listening socket: %s", uv_strerror(rc));
        close(l->fd);
        goto fail;
    }
    l->poll.data = l;
    if ((rc = uv_poll_start(&l->poll, UV_READABLE, on_readable)) < 0) {
        snprintf(err, errlen, "cannot watch the listening socket: %s", uv_strerror(rc));
        sr_listener_close(l, NULL, NULL);
        return NULL;
    }
    return l;
fail:
    if (l->spare >= 0)
        close(l->spare);
    sr_log_limit_free(l->fd_log);
    free(l);
    return NULL;
}

int sr_listener_port(const sr_listener *l) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    return -1;
}

const sr_listener_stats *sr_listener_get_stats(const sr_listener *l) { return &l->stats; }

static void on_poll_closed(uv_handle_t *handle) {
    sr_listener *l = handle->data;
    close(l->fd);
    if (l->spare >= 0)
        close(l->spare);
    if (l->close_cb)
        l->close_cb(l->close_ud);
    sr_log_limit_free(l->fd_log);
    free(l);
}

void sr_listener_close(sr_listener *l, void (*cb)(void *ud), void *ud) {
    if (l->closing)
        return;
    l->closing = 1;
    l->close_cb = cb;
    l->close_ud = ud;
    uv_close((uv_handle_t *)&l->poll, on_poll_closed);
}
