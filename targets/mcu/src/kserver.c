/* One host at a time on the UART: handshake, then IOSPEC, MODEL (the SHA-256 of the model
 * built into this firmware: a microcontroller cannot load code), DATA, PROCESS, OUTPUT and
 * STATS, each answered OK or ERROR; a bad frame is an ERROR, never a fault. */
#include <string.h>

#include "hal.h"
#include "kenning_model.h"
#include "kfmt.h"
#include "kproto.h"
#include "kserver.h"
#include "ksecret.h"

#define TIMEOUT_MS 30000u       /* each read inside a frame */
#define IDLE_MS 600000u         /* a host silent this long loses its session */
#define LOG_SIZE 32u            /* inference times kept between two STATS */
#define TEXT_LIMIT (64u * 1024u)
#define IOSPEC_LIMIT (1024u * 1024u)

static kp_link link;
static uint8_t input[KENNING_MODEL_INPUT_BYTES] __attribute__((aligned(8)));
static uint8_t output[KENNING_MODEL_OUTPUT_BYTES] __attribute__((aligned(8)));
static uint8_t small[KP_NONCE] __attribute__((aligned(4)));
static uint8_t client_nonce[KP_NONCE], server_nonce[KP_NONCE];
static uint8_t hello_done, model_ok, have_input, have_output;
static uint64_t nonce_counter;
static uint64_t cycles_log[LOG_SIZE];
static uint32_t log_count, log_dropped;
static char text[2048]; /* STATS: 32 times and cycle counts at most, and the footprint */

uint32_t kp_limit(uint8_t type)
{
    switch (type) {
    case KP_HELLO: case KP_AUTH: case KP_MODEL: return KP_NONCE;
    case KP_PROCESS: case KP_OUTPUT: case KP_STATS: return 0;
    case KP_IOSPEC: case KP_DATA: return IOSPEC_LIMIT;
    default: return TEXT_LIMIT;
    }
}

static kp_sink sink_for(uint8_t type, uint32_t length)
{
    kp_sink sink = {0, 0};
    if (type == KP_DATA) {
        have_input = have_output = 0;
        if (link.tagged && length == KENNING_MODEL_INPUT_BYTES) {
            sink.buf = input;
            sink.cap = sizeof input;
        }
    } else if (type == KP_HELLO || type == KP_AUTH || type == KP_MODEL) {
        sink.buf = small;
        sink.cap = sizeof small;
    }
    return sink;
}

static void send_error(const char *why)
{
    kp_send_text(&link, KP_ERROR, why);
}

/* SHA-256 over the secret, a counter, the cycle counter and the host's nonce: fresh for every
 * HELLO of a boot, and unknown to whoever lacks the secret (QEMU's boards have no TRNG). */
static void make_nonce(void)
{
    sha256_ctx c;
    uint64_t now = hal_cycles();
    nonce_counter++;
    sha256_init(&c);
    sha256_update(&c, (const uint8_t *)kenning_secret.bytes, kenning_secret.length);
    sha256_update(&c, (const uint8_t *)&nonce_counter, sizeof nonce_counter);
    sha256_update(&c, (const uint8_t *)&now, sizeof now);
    sha256_update(&c, client_nonce, KP_NONCE);
    sha256_update(&c, server_nonce, KP_NONCE);
    sha256_final(&c, server_nonce);
}

/* HMAC-SHA256(secret, label + first + second + suite). */
static void prove(const char *label, const uint8_t *first, const uint8_t *second,
                  uint8_t out[32])
{
    hmac_sha256_ctx h;
    const uint8_t suite = KP_SUITE_HMAC;
    hmac_sha256_init(&h, (const uint8_t *)kenning_secret.bytes, kenning_secret.length);
    hmac_sha256_update(&h, (const uint8_t *)label, strlen(label));
    hmac_sha256_update(&h, first, KP_NONCE);
    hmac_sha256_update(&h, second, KP_NONCE);
    hmac_sha256_update(&h, &suite, 1);
    hmac_sha256_final(&h, out);
}

static void on_hello(void)
{
    if (link.length != KP_NONCE) {
        send_error("HELLO carries the wrong number of bytes, not a 32-byte nonce");
        return;
    }
    memcpy(client_nonce, small, KP_NONCE);
    make_nonce();
    uint8_t reply[KP_NONCE + 1];
    memcpy(reply, server_nonce, KP_NONCE);
    reply[KP_NONCE] = KP_SUITE_HMAC;
    kp_send(&link, KP_HELLO, reply, sizeof reply);
    hello_done = 1;
}

static void on_auth(void)
{
    uint8_t want[32];
    if (!hello_done) {
        send_error("AUTH before HELLO: send HELLO first (docs/protocol.md)");
        return;
    }
    hello_done = 0;
    if (kenning_secret.length == 0 || kenning_secret.length > KSECRET_MAX) {
        send_error("authentication failed: this firmware holds no secret (kenning writes the "
                   "run's secret into a copy of the ELF before it starts the board)");
        return;
    }
    prove("kenning host v3", server_nonce, client_nonce, want);
    if (link.length != KP_NONCE || !ct_equal(want, small, KP_NONCE)) {
        send_error("authentication failed: the host does not hold this run's secret "
                   "(a host of another run, or a missing or wrong --secret-file)");
        return;
    }
    prove("kenning target v3", client_nonce, server_nonce, want);
    kp_send(&link, KP_OK, want, 32);
    prove("kenning frames host v3", client_nonce, server_nonce, link.host_key);
    prove("kenning frames target v3", client_nonce, server_nonce, link.target_key);
    link.tagged = 1;
    link.rx_number = link.tx_number = 0;
    log_count = log_dropped = 0; /* STATS tells this host about its own inferences */
}

static void footprint_json(kfmt *f)
{
    uint32_t flash, ram;
    hal_footprint(&flash, &ram);
    kf_str(f, "\"board\": \"");
    kf_str(f, hal_board());
    kf_str(f, "\", \"cpu\": \"");
    kf_str(f, hal_cpu());
    kf_str(f, "\", \"flash_bytes\": ");
    kf_u64(f, flash);
    kf_str(f, ", \"ram_bytes\": ");
    kf_u64(f, ram);
    kf_str(f, ", \"stack_bytes\": ");
    kf_u64(f, hal_stack_size());
    kf_str(f, ", \"stack_high_water_bytes\": ");
    kf_u64(f, hal_stack_high_water());
    kf_str(f, ", \"cycles_hz\": ");
    kf_u64(f, hal_cycles_hz());
}

static void on_model(void)
{
    kfmt f;
    kf_init(&f, text, sizeof text);
    model_ok = have_input = have_output = 0;
    if (memcmp(small, kenning_model_sha256, 32) != 0) {
        kf_str(&f, "this firmware holds model ");
        kf_str(&f, kenning_model_name);
        kf_str(&f, " (sha256 ");
        kf_hex(&f, kenning_model_sha256, 32);
        kf_str(&f, "), not sha256 ");
        kf_hex(&f, small, 32);
        kf_str(&f, ": build the firmware for this model (compiler onnx-c) and start the "
                   "board with it");
        send_error(kf_text(&f));
        return;
    }
    model_ok = 1;
    kf_str(&f, "{\"runtime\": \"onnx-c\", \"version\": \"");
    kf_str(&f, KENNING_MODEL_GENERATOR);
    kf_str(&f, "\", \"firmware_model\": true, \"model\": \"");
    kf_str(&f, kenning_model_name);
    kf_str(&f, "\", \"sha256\": \"");
    kf_hex(&f, kenning_model_sha256, 32);
    kf_str(&f, "\", \"model_bytes\": ");
    kf_u64(&f, KENNING_MODEL_FILE_BYTES);
    kf_str(&f, ", \"load_time_s\": 0, ");
    footprint_json(&f);
    kf_str(&f, "}");
    kp_send_text(&link, KP_OK, kf_text(&f));
}

static void on_process(void)
{
    static const uint8_t none[1] = {0};
    kp_send(&link, KP_OK, none, 0);
    uint64_t start = hal_cycles();
    kenning_model_run(input, output);
    uint64_t took = hal_cycles() - start;
    have_output = 1;
    if (log_count < LOG_SIZE) cycles_log[log_count++] = took;
    else log_dropped++;
    double seconds = (double)took / (double)hal_cycles_hz();
    uint8_t reply[8];
    memcpy(reply, &seconds, sizeof reply); /* little-endian IEEE 754 on Cortex-M */
    kp_send(&link, KP_OK, reply, sizeof reply);
}

static void on_stats(void)
{
    kfmt f;
    kf_init(&f, text, sizeof text);
    kf_str(&f, "{\"inference_time_s\": [");
    for (uint32_t i = 0; i < log_count; i++) {
        if (i) kf_str(&f, ", ");
        kf_ratio(&f, cycles_log[i], hal_cycles_hz());
    }
    kf_str(&f, "], \"inference_cycles\": [");
    for (uint32_t i = 0; i < log_count; i++) {
        if (i) kf_str(&f, ", ");
        kf_u64(&f, cycles_log[i]);
    }
    kf_str(&f, "], \"inference_times_dropped\": ");
    kf_u64(&f, log_dropped);
    kf_str(&f, ", \"clock_s\": ");
    kf_ratio(&f, hal_cycles(), hal_cycles_hz());
    kf_str(&f, ", ");
    footprint_json(&f);
    kf_str(&f, "}");
    log_count = log_dropped = 0;
    kp_send_text(&link, KP_OK, kf_text(&f));
}

static void serve(uint8_t type)
{
    kfmt f;
    kf_init(&f, text, sizeof text);
    if (type == KP_HELLO) return on_hello();
    if (type == KP_AUTH) return on_auth();
    if (type == KP_OK || type == KP_ERROR) {
        kf_str(&f, "unexpected ");
        kf_str(&f, kp_type_name(type));
        kf_str(&f, " from the host: it is a reply");
        return send_error(kf_text(&f));
    }
    if (!link.tagged) {
        kf_str(&f, kp_type_name(type));
        kf_str(&f, " before the handshake: a host must send HELLO and AUTH first, proving it "
                   "holds this run's secret (docs/protocol.md)");
        return send_error(kf_text(&f));
    }
    if (type == KP_IOSPEC) return kp_send(&link, KP_OK, input, 0);
    if (type == KP_MODEL) return on_model();
    if (type == KP_STATS) return on_stats();
    if (!model_ok) return send_error("no model loaded: send IOSPEC and MODEL before DATA");
    if (type == KP_DATA) {
        if (!link.stored) {
            kf_str(&f, "input of ");
            kf_u64(&f, link.length);
            kf_str(&f, " bytes is not one ");
            kf_u64(&f, KENNING_MODEL_INPUT_BYTES);
            kf_str(&f, "-byte sample (this firmware takes one sample per DATA)");
            return send_error(kf_text(&f));
        }
        have_input = 1;
        return kp_send(&link, KP_OK, input, 0);
    }
    if (type == KP_PROCESS) {
        if (!have_input) return send_error("no input: send DATA before PROCESS");
        return on_process();
    }
    if (!have_output) return send_error("no output: send PROCESS before OUTPUT");
    kp_send(&link, KP_OK, output, KENNING_MODEL_OUTPUT_BYTES);
}

void kserver_run(void)
{
    link.timeout_ms = TIMEOUT_MS;
    kp_end_session(&link);
    for (;;) {
        int status = kp_receive(&link, IDLE_MS, sink_for);
        if (status == KP_GOT) {
            serve(link.type);
        } else if (status == KP_IDLE && link.tagged) {
            if (link.heard) send_error("idle for 600 s: closing");
            kp_end_session(&link);
            hello_done = 0;
        } else if (status == KP_REFUSED && !link.tagged) {
            hello_done = 0;
        }
    }
}
