/* crc32c_ref.h - bitwise CRC-32C (Castagnoli, reflected 0x82F63B78), the
 * slow reference: test_spool checks the spool's table and SSE4.2 versions
 * against it, and fuzz_spool uses it to make mutated segments' records
 * valid so that recovery reads past them. */
#ifndef SR_CRC32C_REF_H
#define SR_CRC32C_REF_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t ref_crc32c(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

#endif
