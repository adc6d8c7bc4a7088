/* Frames on the UART: the checks of docs/protocol.md "Wire format", in its order, and the
 * HMAC-SHA256 tags of "Frame authentication" (suite 1) once the handshake is done. */
#include <string.h>

#include "crc32.h"
#include "hal.h"
#include "kfmt.h"
#include "kproto.h"

static const char *const type_names[KP_TYPES] = {
    "OK", "ERROR", "DATA", "MODEL", "PROCESS", "OUTPUT", "STATS", "IOSPEC", "HELLO", "AUTH",
};

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

const char *kp_type_name(uint8_t type)
{
    return type < KP_TYPES ? type_names[type] : 0;
}

static void type_name(kfmt *f, uint8_t type)
{
    if (type < KP_TYPES) {
        kf_str(f, type_names[type]);
    } else {
        kf_str(f, "0x");
        kf_hex(f, &type, 1);
    }
}

/* Starts a tag: HMAC-SHA256(key, frame number as 8 bytes big-endian + header ...). */
static void tag_start(hmac_sha256_ctx *h, const uint8_t key[32], uint64_t number,
                      const uint8_t *header)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)(number >> (56 - 8 * i));
    hmac_sha256_init(h, key, 32);
    hmac_sha256_update(h, be, 8);
    hmac_sha256_update(h, header, KP_HEADER);
}

/* n bytes, each within timeout_ms of the one before; 0 if the line went quiet. */
static int read_exact(uint8_t *p, uint32_t n, uint32_t timeout_ms)
{
    for (uint32_t i = 0; i < n; i++) {
        int c = hal_uart_getc(timeout_ms);
        if (c < 0) return 0;
        p[i] = (uint8_t)c;
    }
    return 1;
}

void kp_drain(void)
{
    while (hal_uart_getc(50) >= 0) {
    }
}

void kp_end_session(kp_link *l)
{
    l->tagged = 0;
    l->rx_number = l->tx_number = 0;
    l->heard = 0;
    memset(l->host_key, 0, sizeof l->host_key);
    memset(l->target_key, 0, sizeof l->target_key);
}

void kp_send(kp_link *l, uint8_t type, const uint8_t *payload, uint32_t length)
{
    uint8_t header[KP_HEADER];
    memcpy(header, "KENN", 4);
    header[4] = KP_VERSION;
    header[5] = type;
    header[6] = l->tagged ? KP_FLAG_TAGGED : 0;
    header[7] = 0;
    wr32(header + 8, length);
    wr32(header + 12, length);
    wr32(header + 16, l->tagged ? 0 : crc32_update(0, payload, length));
    wr32(header + 20, crc32_update(0, header, 20));
    hal_uart_write(header, KP_HEADER);
    hal_uart_write(payload, length);
    if (l->tagged) {
        hmac_sha256_ctx h;
        uint8_t tag[32];
        tag_start(&h, l->target_key, l->tx_number++, header);
        hmac_sha256_update(&h, payload, length);
        hmac_sha256_final(&h, tag);
        hal_uart_write(tag, KP_TAG);
    }
}

void kp_send_text(kp_link *l, uint8_t type, const char *text)
{
    kp_send(l, type, (const uint8_t *)text, (uint32_t)strlen(text));
}

/* A bad frame: drain the line (so the host's next frame, sent after it reads this ERROR, is
 * not drained too), answer ERROR, and end the session when the frame could be forged. */
static int refuse(kp_link *l, kfmt *why, int end_session)
{
    kp_drain();
    kp_send_text(l, KP_ERROR, kf_text(why));
    if (end_session) kp_end_session(l);
    return KP_REFUSED;
}

static int refuse_forged(kp_link *l, kfmt *why, int64_t number)
{
    if (number < 0) {
        kf_str(why, "a frame without a tag");
    } else {
        kf_str(why, "frame ");
        kf_u64(why, (uint64_t)number);
        kf_str(why, " of the session failed its hmac-sha256 check");
    }
    kf_str(why, ": it was corrupted, changed, injected, replayed or reordered on the way "
                "(frames after the handshake are authenticated); the session ends");
    return refuse(l, why, 1);
}

/* Header checks that need no context: magic, version, header CRC, flags. 0: passed. */
static int header_fault(const uint8_t *h, kfmt *why)
{
    if (memcmp(h, "KENN", 4) != 0) {
        kf_str(why, "bad magic 0x");
        kf_hex(why, h, 4);
        kf_str(why, " (expected b'KENN')");
    } else if (h[4] != KP_VERSION) {
        kf_str(why, "protocol version ");
        kf_u64(why, h[4]);
        kf_str(why, " is not supported (this side speaks 3)");
    } else if (crc32_update(0, h, 20) != rd32(h + 20)) {
        kf_str(why, "header checksum mismatch (corrupted header)");
    } else if ((h[6] | h[7] << 8) & ~(KP_FLAG_MORE | KP_FLAG_TAGGED)) {
        kf_str(why, "unknown flag bits 0x");
        uint8_t bits[2] = {h[7], (uint8_t)(h[6] & ~(KP_FLAG_MORE | KP_FLAG_TAGGED))};
        kf_hex(why, bits, 2);
    } else {
        return 0;
    }
    return 1;
}

int kp_receive(kp_link *l, uint32_t idle_ms, kp_sink (*sink_for)(uint8_t, uint32_t))
{
    char text[200];
    kfmt why;
    uint8_t h[KP_HEADER];
    kf_init(&why, text, sizeof text);

    int c = hal_uart_getc(idle_ms);
    if (c < 0) return KP_IDLE;
    h[0] = (uint8_t)c;
    if (!read_exact(h + 1, KP_HEADER - 1, l->timeout_ms)) {
        kf_str(&why, "truncated frame header");
        return refuse(l, &why, 0);
    }
    if (header_fault(h, &why)) return refuse(l, &why, 0);

    const uint8_t type = h[5];
    const uint32_t total = rd32(h + 8);
    kp_sink sink = {0, 0};
    uint32_t offset = 0;
    int checksum_ok = 1;
    for (int first = 1;; first = 0) {
        const uint16_t flags = (uint16_t)(h[6] | h[7] << 8);
        const uint32_t piece = rd32(h + 12);
        const int more = flags & KP_FLAG_MORE, tagged = (flags & KP_FLAG_TAGGED) != 0;
        if (!first && header_fault(h, &why)) return refuse(l, &why, l->tagged);
        if (!first && (h[5] != type || rd32(h + 8) != total)) {
            kf_str(&why, "a frame of another message inside a ");
            type_name(&why, type);
            kf_str(&why, " message");
            return refuse(l, &why, l->tagged);
        }
        if (first && total > kp_limit(type)) {
            type_name(&why, type);
            kf_str(&why, " message of ");
            kf_u64(&why, total);
            kf_str(&why, " bytes exceeds the maximum payload size (");
            kf_u64(&why, kp_limit(type));
            kf_str(&why, " bytes on this target)");
            return refuse(l, &why, 0);
        }
        if (piece > total - offset || (more && piece == 0) || (!more && offset + piece != total)) {
            kf_str(&why, "frame of ");
            kf_u64(&why, piece);
            kf_str(&why, " bytes at byte ");
            kf_u64(&why, offset);
            kf_str(&why, " of a ");
            kf_u64(&why, total);
            kf_str(&why, "-byte message");
            return refuse(l, &why, l->tagged);
        }
        if (type == KP_HELLO && first && !tagged) kp_end_session(l); /* a new handshake */
        if (tagged && !l->tagged) {
            kf_str(&why, "a tagged frame before the handshake");
            return refuse(l, &why, 0);
        }
        if (!tagged && l->tagged) return refuse_forged(l, &why, -1);
        if (first) {
            sink = sink_for(type, total);
            l->stored = sink.buf != 0 && total <= sink.cap;
        }
        hmac_sha256_ctx mac;
        uint32_t crc = 0;
        if (tagged) tag_start(&mac, l->host_key, l->rx_number, h);
        for (uint32_t done = 0; done < piece;) {
            uint8_t scratch[64];
            uint32_t n = piece - done < sizeof scratch ? piece - done : (uint32_t)sizeof scratch;
            uint8_t *dst = l->stored ? sink.buf + offset + done : scratch;
            if (!read_exact(dst, n, l->timeout_ms)) {
                kf_str(&why, "truncated frame payload: ");
                kf_u64(&why, done);
                kf_str(&why, " of ");
                kf_u64(&why, piece);
                kf_str(&why, " bytes arrived");
                return refuse(l, &why, l->tagged);
            }
            if (tagged) hmac_sha256_update(&mac, dst, n);
            else crc = crc32_update(crc, dst, n);
            done += n;
        }
        if (tagged) {
            uint8_t want[32], got[KP_TAG];
            hmac_sha256_final(&mac, want);
            if (!read_exact(got, KP_TAG, l->timeout_ms) || !ct_equal(want, got, KP_TAG))
                return refuse_forged(l, &why, (int64_t)l->rx_number);
            l->rx_number++;
        } else if (crc != rd32(h + 16)) {
            checksum_ok = 0;
        }
        offset += piece;
        if (!more) break;
        if (!read_exact(h, KP_HEADER, l->timeout_ms)) {
            kf_str(&why, "message ends at byte ");
            kf_u64(&why, offset);
            kf_str(&why, " of ");
            kf_u64(&why, total);
            return refuse(l, &why, l->tagged);
        }
    }
    l->type = type;
    l->length = total;
    if (!checksum_ok) {
        kf_str(&why, "payload checksum mismatch in ");
        type_name(&why, type);
        kf_str(&why, " frame");
        return refuse(l, &why, 0);
    }
    if (type >= KP_TYPES) {
        kf_str(&why, "unknown message type ");
        type_name(&why, type);
        return refuse(l, &why, 0);
    }
    l->heard = 1;
    return KP_GOT;
}
