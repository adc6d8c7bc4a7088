/* Text without printf: keeps newlib's formatted I/O (tens of KB of flash) out of the firmware. */
#include "kfmt.h"

void kf_init(kfmt *f, char *buf, uint32_t cap)
{
    f->buf = buf;
    f->cap = cap;
    f->len = 0;
    if (cap) buf[0] = 0;
}

static void put(kfmt *f, char c)
{
    if (f->len + 1 < f->cap) {
        f->buf[f->len++] = c;
        f->buf[f->len] = 0;
    }
}

void kf_str(kfmt *f, const char *s)
{
    while (*s) put(f, *s++);
}

void kf_u64(kfmt *f, uint64_t v)
{
    char digits[21];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) put(f, digits[--n]);
}

void kf_hex(kfmt *f, const uint8_t *p, uint32_t n)
{
    static const char hexd[] = "0123456789abcdef";
    for (uint32_t i = 0; i < n; i++) {
        put(f, hexd[p[i] >> 4]);
        put(f, hexd[p[i] & 15u]);
    }
}

void kf_ratio(kfmt *f, uint64_t num, uint64_t den)
{
    if (!den) {
        kf_str(f, "null");
        return;
    }
    kf_u64(f, num / den);
    put(f, '.');
    uint64_t rest = num % den;
    for (int i = 0; i < 12; i++) {
        rest *= 10u;
        put(f, (char)('0' + rest / den));
        rest %= den;
    }
}

const char *kf_text(kfmt *f)
{
    return f->buf;
}
