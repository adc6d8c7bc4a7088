/* kenning's wire protocol, version 3, for a bare-metal target (see docs/protocol.md).
 *
 * kframe.c reads and writes frames on the UART (header checks, CRC32 before the handshake,
 * HMAC-SHA256 tags after it); kserver.c runs the session on top. Everything is in fixed
 * buffers: nothing here allocates. */
#ifndef KPROTO_H
#define KPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

#define KP_VERSION 3u
#define KP_HEADER 24u
#define KP_TAG 16u
#define KP_NONCE 32u
#define KP_FLAG_MORE 0x1u
#define KP_FLAG_TAGGED 0x2u
#define KP_SUITE_HMAC 1u

enum kp_type {
    KP_OK = 0, KP_ERROR = 1, KP_DATA = 2, KP_MODEL = 3, KP_PROCESS = 4, KP_OUTPUT = 5,
    KP_STATS = 6, KP_IOSPEC = 7, KP_HELLO = 8, KP_AUTH = 9, KP_TYPES = 10
};

/* What kp_receive found. */
enum kp_status {
    KP_GOT = 0,      /* a whole, checked message */
    KP_IDLE = 1,     /* nothing arrived within the idle wait */
    KP_REFUSED = 2,  /* a bad frame: an ERROR was sent, the line was drained (session goes on
                        if kp_link.tagged is still set) */
};

/* Where a message's payload goes: a buffer, or nowhere (it is then only checked). */
typedef struct {
    uint8_t *buf;    /* NULL: read, check, drop */
    uint32_t cap;    /* bytes buf holds */
} kp_sink;

typedef struct {
    uint8_t tagged;                /* the handshake is done: frames carry tags */
    uint8_t host_key[32];          /* checks what the host sends */
    uint8_t target_key[32];        /* tags what we send */
    uint64_t rx_number, tx_number; /* frames of the session, per direction */
    uint32_t timeout_ms;           /* each read inside a frame */
    uint8_t heard;                 /* the host sent something in this session */
    /* the last received message */
    uint8_t type;
    uint32_t length;               /* payload bytes of the message */
    uint8_t stored;                /* the payload fit the sink and is in it */
} kp_link;

/* The longest message of each type this target reads (larger ones are refused from their
 * header); DATA's is the model's input size. */
uint32_t kp_limit(uint8_t type);

/* Wait up to idle_ms for a message and read it whole into the sink chosen by sink_for. */
int kp_receive(kp_link *l, uint32_t idle_ms, kp_sink (*sink_for)(uint8_t type, uint32_t length));

/* Send one message (one frame), tagged when the link is. */
void kp_send(kp_link *l, uint8_t type, const uint8_t *payload, uint32_t length);
void kp_send_text(kp_link *l, uint8_t type, const char *text);

/* A message type's name ("DATA"); for a type this side does not know, NULL. */
const char *kp_type_name(uint8_t type);

/* Drop whatever the line holds until it has been quiet for 50 ms. */
void kp_drain(void);

/* Forget the session: no tags, counters at 0. */
void kp_end_session(kp_link *l);

#endif
