/*
 * CRC-32/ISO-HDLC (zip, PNG, Python's zlib.crc32) for the frame header and
 * payload checksums of docs/protocol.md. Freestanding C99.
 */
#ifndef KENNING_MCU_CRC32_H
#define KENNING_MCU_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC over p[0..n): crc32_update(0, p, n) == zlib.crc32(p), and
 * crc32_update(crc32_update(0, a, na), b, nb) == zlib.crc32(a + b).
 */
uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n);

#endif /* KENNING_MCU_CRC32_H */
