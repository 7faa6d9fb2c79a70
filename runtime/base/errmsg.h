/* errmsg.h - filling a caller's error buffer.
 *
 * Functions that can fail in more than one way take `char *err, size_t
 * errlen` and say why there; sr_set_err formats into it, truncating, and
 * does nothing when the caller passed no buffer. */
#ifndef SR_ERRMSG_H
#define SR_ERRMSG_H

#include <stddef.h>

void sr_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
