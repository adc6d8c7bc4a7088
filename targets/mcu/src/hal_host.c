/* HAL for a Linux host build of the target server (fast tests without QEMU):
 * the "UART" is fd 0 (in) and fd 1 (out), cycles are CLOCK_MONOTONIC nanoseconds.
 * End of input on fd 0 ends the process (exit status 0): nobody is left to talk to. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hal.h"

static uint8_t rx_buf[4096];
static size_t rx_len;
static size_t rx_pos;
static uint64_t t0_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hal_init(void)
{
    signal(SIGPIPE, SIG_IGN);   /* a closed reader shows up as EPIPE in hal_uart_write */
    t0_ns = now_ns();
}

int hal_uart_getc(uint32_t timeout_ms)
{
    if (rx_pos < rx_len) {
        return rx_buf[rx_pos++];
    }
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = now_ns();
        int wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int r = poll(&pfd, 1, wait_ms);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            _exit(1);
        }
        if (r == 0) {
            if (now_ns() >= deadline) {
                return -1;
            }
            continue;
        }
        ssize_t n = read(0, rx_buf, sizeof rx_buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            _exit(n == 0 ? 0 : 1);
        }
        rx_len = (size_t)n;
        rx_pos = 1;
        return rx_buf[0];
    }
}

void hal_uart_write(const uint8_t *p, uint32_t n)
{
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            _exit(1);
        }
        p += w;
        n -= (uint32_t)w;
    }
}

uint64_t hal_cycles(void)
{
    return now_ns() - t0_ns;
}

uint32_t hal_cycles_hz(void)
{
    return 1000000000u;
}

uint32_t hal_stack_size(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT32_MAX) {
        return 0;
    }
    return (uint32_t)rl.rlim_cur;
}

uint32_t hal_stack_high_water(void)
{
    return 0;   /* not measured on the host */
}

void hal_footprint(uint32_t *flash_bytes, uint32_t *ram_bytes)
{
    *flash_bytes = 0;
    *ram_bytes = 0;
}

const char *hal_board(void)
{
    return "host";
}

const char *hal_cpu(void)
{
    return "host";
}

void hal_fault_reset(void)
{
    static const char msg[] = "\nkenning-mcu: fault reset\n";
    hal_uart_write((const uint8_t *)msg, sizeof msg - 1);
    abort();
}
