/* SHA-256 after FIPS 180-4, HMAC after RFC 2104 / FIPS 198-1. */
#include "sha256.h"

#include <string.h>

/* FIPS 180-4 4.2.2: first 32 bits of the fractional parts of the cube roots
 * of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

/* FIPS 180-4 5.3.3: initial hash value (square roots of the first 8 primes). */
static const uint32_t H0[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

/* Big-endian load/store, byte by byte: no alignment or endianness assumed. */
static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Clear memory holding key material; volatile so the stores are kept. */
static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) {
        *v++ = 0;
    }
}

/*
 * FIPS 180-4 6.2.2: fold one 64-byte block into the state. The message
 * schedule W is kept as a 16-word ring (64 bytes of stack instead of 256).
 */
static void compress(uint32_t s[8], const uint8_t *block)
{
    uint32_t w[16];
    uint32_t a = s[0], b = s[1], c = s[2], d = s[3];
    uint32_t e = s[4], f = s[5], g = s[6], h = s[7];
    unsigned t;

    for (t = 0; t < 64; t++) {
        uint32_t wt, t1, t2;
        if (t < 16) {
            wt = load_be32(block + 4 * t);
        } else {
            wt = SSIG1(w[(t - 2) & 15]) + w[(t - 7) & 15] + SSIG0(w[(t - 15) & 15]) +
                 w[t & 15];
        }
        w[t & 15] = wt;
        t1 = h + BSIG1(e) + CH(e, f, g) + K[t] + wt;
        t2 = BSIG0(a) + MAJ(a, b, c);
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s[0] += a;
    s[1] += b;
    s[2] += c;
    s[3] += d;
    s[4] += e;
    s[5] += f;
    s[6] += g;
    s[7] += h;
}

/* Start a new hash. */
void sha256_init(sha256_ctx *c)
{
    memcpy(c->state, H0, sizeof(H0));
    c->length = 0;
    c->buflen = 0;
}

/* Absorb p[0..n); whole blocks are compressed straight from p. */
void sha256_update(sha256_ctx *c, const uint8_t *p, size_t n)
{
    c->length += n;
    if (c->buflen > 0) {
        size_t take = SHA256_BLOCK_SIZE - c->buflen;
        if (take > n) {
            take = n;
        }
        memcpy(c->buf + c->buflen, p, take);
        c->buflen += take;
        p += take;
        n -= take;
        if (c->buflen < SHA256_BLOCK_SIZE) {
            return;
        }
        compress(c->state, c->buf);
        c->buflen = 0;
    }
    while (n >= SHA256_BLOCK_SIZE) {
        compress(c->state, p);
        p += SHA256_BLOCK_SIZE;
        n -= SHA256_BLOCK_SIZE;
    }
    if (n > 0) {
        memcpy(c->buf, p, n);
        c->buflen = n;
    }
}

/*
 * FIPS 180-4 5.1.1: pad with 0x80, zeros and the 64-bit bit length, then
 * write the digest. The context is wiped; init it again to reuse it.
 */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE])
{
    uint64_t bits = c->length << 3;
    size_t i = c->buflen;

    c->buf[i++] = 0x80;
    if (i > SHA256_BLOCK_SIZE - 8) {
        memset(c->buf + i, 0, SHA256_BLOCK_SIZE - i);
        compress(c->state, c->buf);
        i = 0;
    }
    memset(c->buf + i, 0, SHA256_BLOCK_SIZE - 8 - i);
    store_be32(c->buf + 56, (uint32_t)(bits >> 32));
    store_be32(c->buf + 60, (uint32_t)bits);
    compress(c->state, c->buf);
    for (i = 0; i < 8; i++) {
        store_be32(out + 4 * i, c->state[i]);
    }
    wipe(c, sizeof(*c));
}

/* One-shot SHA-256 of p[0..n). */
void sha256(const uint8_t *p, size_t n, uint8_t out[SHA256_DIGEST_SIZE])
{
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, p, n);
    sha256_final(&c, out);
}

/*
 * RFC 2104: inner = H((K ^ ipad) || msg), outer = H((K ^ opad) || inner),
 * K being the key (hashed first when longer than a block) padded with zeros
 * to 64 bytes. Both pads are absorbed here, so a context can be set up once
 * per key and copied for every message (one frame tag = one copy).
 */
void hmac_sha256_init(hmac_sha256_ctx *c, const uint8_t *key, size_t keylen)
{
    uint8_t k[SHA256_BLOCK_SIZE];
    size_t i;

    memset(k, 0, sizeof(k));
    if (keylen > SHA256_BLOCK_SIZE) {
        sha256(key, keylen, k);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (i = 0; i < SHA256_BLOCK_SIZE; i++) {
        k[i] ^= 0x36;
    }
    sha256_init(&c->inner);
    sha256_update(&c->inner, k, SHA256_BLOCK_SIZE);
    for (i = 0; i < SHA256_BLOCK_SIZE; i++) {
        k[i] ^= 0x36 ^ 0x5c;
    }
    sha256_init(&c->outer);
    sha256_update(&c->outer, k, SHA256_BLOCK_SIZE);
    wipe(k, sizeof(k));
}

/* Absorb more of the message. */
void hmac_sha256_update(hmac_sha256_ctx *c, const uint8_t *p, size_t n)
{
    sha256_update(&c->inner, p, n);
}

/* Write the 32-byte MAC; the context is wiped. */
void hmac_sha256_final(hmac_sha256_ctx *c, uint8_t out[SHA256_DIGEST_SIZE])
{
    uint8_t inner[SHA256_DIGEST_SIZE];

    sha256_final(&c->inner, inner);
    sha256_update(&c->outer, inner, sizeof(inner));
    sha256_final(&c->outer, out);
    wipe(inner, sizeof(inner));
}

/* One-shot HMAC-SHA256 of msg[0..n) under key[0..keylen). */
void hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t n,
                 uint8_t out[SHA256_DIGEST_SIZE])
{
    hmac_sha256_ctx c;
    hmac_sha256_init(&c, key, keylen);
    hmac_sha256_update(&c, msg, n);
    hmac_sha256_final(&c, out);
}

/* OR of all byte differences, no early exit; 1 when equal. */
int ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t d = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        d = (uint8_t)(d | (a[i] ^ b[i]));
    }
    return (int)(1u & (((unsigned)d - 1u) >> 8));
}
