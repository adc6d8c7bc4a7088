/* Building short texts (ERROR reasons, the JSON of OK replies) without printf. */
#ifndef KFMT_H
#define KFMT_H

#include <stdint.h>

typedef struct {
    char *buf;
    uint32_t cap, len;
} kfmt;

void kf_init(kfmt *f, char *buf, uint32_t cap);
void kf_str(kfmt *f, const char *s);
void kf_u64(kfmt *f, uint64_t v);
void kf_hex(kfmt *f, const uint8_t *p, uint32_t n);
/* num / den as a JSON number with 12 decimal digits of its fraction (seconds to the ps). */
void kf_ratio(kfmt *f, uint64_t num, uint64_t den);
const char *kf_text(kfmt *f); /* NUL-terminated; truncated to cap - 1 */

#endif
