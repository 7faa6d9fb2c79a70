/* cmd_status.h - `siemrelay status`: the integrations of a running gateway
 * as a table, read from its admin API (GET /api/integrations).
 *
 *   siemrelay status [-c FILE ...] [--admin HOST:PORT] [--json]
 *
 * The address is --admin, else `admin.listen` from the configuration files
 * (merged as for a run), else 127.0.0.1:9090; a wildcard bind address
 * (0.0.0.0, ::) is reached on loopback. --json prints the API's answer as
 * it came. Exit status: 0 printed; 1 the gateway is not reachable or
 * answered something unexpected (one line on stderr says what); 2 usage or
 * configuration error. The request is one blocking libcurl transfer (plain
 * HTTP, no proxy) cut after 5 s without progress. */
#ifndef SR_CMD_STATUS_H
#define SR_CMD_STATUS_H

#include <stddef.h>

#include "buf.h"

/* argv[0] is "status". Returns the exit status. */
int sr_cmd_status(int argc, char **argv);

/* Renders the JSON array of GET /api/integrations as the table
 *   NAME  TYPE  STATUS  SINCE  QUEUED  DELIVERED  RETRIED  DEAD-LETTERED  LAST ERROR
 * (columns padded to their widest cell; absent values shown as "-"; control
 * characters in texts shown as spaces). Returns 0, or -1 with err filled when
 * `json` is not such an array. */
int sr_status_table(const char *json, size_t len, sr_buf *out, char *err, size_t errlen);

#endif
