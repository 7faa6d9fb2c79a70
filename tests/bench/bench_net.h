/* bench_net.h - the few socket and clock helpers the bench tools share.
 *
 * Addresses are IPv4 "HOST:PORT" (the tools only talk over loopback). Times
 * are CLOCK_MONOTONIC nanoseconds, which is one clock for every process on
 * the machine: a sender's stamp and a receiver's clock can be subtracted. */
#ifndef BENCH_NET_H
#define BENCH_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

uint64_t bench_now_ns(void);

/* Parses "HOST:PORT" (or ":PORT" / "PORT" for 127.0.0.1). Returns 0 or -1. */
int bench_addr(const char *spec, struct sockaddr_in *out);

/* A blocking TCP connection to "HOST:PORT", with TCP_NODELAY; -1 (and a
 * message on stderr naming `who`) on failure. */
int bench_connect(const char *spec, const char *who);

/* Writes all of [p, p+n) to a blocking descriptor. Returns 0 or -1. */
int bench_write_all(int fd, const char *p, size_t n);

#endif
