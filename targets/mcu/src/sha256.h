/*
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for the microcontroller
 * target server: frame tags (suite 1) and the handshake proofs of
 * docs/protocol.md. Freestanding C99: no allocation, no libc beyond
 * <string.h>.
 */
#ifndef KENNING_MCU_SHA256_H
#define KENNING_MCU_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BLOCK_SIZE 64
#define SHA256_DIGEST_SIZE 32

/* Running state of one SHA-256 computation. */
typedef struct {
    uint32_t state[8];             /* chaining value H0..H7 */
    uint64_t length;               /* bytes hashed so far */
    uint8_t buf[SHA256_BLOCK_SIZE]; /* partial block not yet compressed */
    size_t buflen;                 /* bytes in buf, always < 64 */
} sha256_ctx;

/* Running state of one HMAC-SHA256 computation. */
typedef struct {
    sha256_ctx inner, outer;
} hmac_sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE]);
void sha256(const uint8_t *p, size_t n, uint8_t out[SHA256_DIGEST_SIZE]);

void hmac_sha256_init(hmac_sha256_ctx *c, const uint8_t *key, size_t keylen);
void hmac_sha256_update(hmac_sha256_ctx *c, const uint8_t *p, size_t n);
void hmac_sha256_final(hmac_sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE]);
void hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t n,
                 uint8_t out[SHA256_DIGEST_SIZE]);

/* 1 when a[0..n) == b[0..n), else 0; time depends on n only (tag checks). */
int ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif /* KENNING_MCU_SHA256_H */
