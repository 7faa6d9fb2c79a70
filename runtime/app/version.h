/* version.h - what `siemrelay --version` prints: the gateway's version and
 * the versions of the libraries it runs with.
 *
 * The library versions are asked of the libraries at run time (not taken
 * from the headers it was built against), so a package linked against a
 * newer shared library reports what is really loaded. LuaJIT is asked
 * through a throwaway state (`jit.version`). */
#ifndef SR_VERSION_H
#define SR_VERSION_H

#include <stdio.h>

/* Writes "siemrelay X.Y.Z" and one "NAME VERSION" line per library.
 * Returns 0, or -1 when a library could not say (the line then reads
 * "unknown"). */
int sr_version_print(FILE *out);

#endif
