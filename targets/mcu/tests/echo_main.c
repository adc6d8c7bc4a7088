/* Demo/test program for the HAL (not the target server): make MAIN=tests/echo_main.c.
 * Prints "kenning-mcu ready <board> <cpu> <hz>", then echoes every byte it receives, except:
 *   '!'  float work (sum of sinf over 1000 values) timed with hal_cycles; prints cycles,
 *        stack high water, footprint and what DWT->CYCCNT counted meanwhile
 *   '='  calibration: a 2-instruction loop run 10,000,000 times, prints its hal_cycles
 *   '?'  hal_uart_getc(250) with nothing sent: prints its result and the cycles it took
 *   '%'  unbounded recursion: overflows the main stack (should end in the fault line)
 *   '#'  reads 0xFFFFFFF0 (a bus fault: should print "kenning-mcu: hard fault pc=0x...")
 *   '@'  hal_fault_reset()
 *   'T'  transmit test: 65536 bytes of "abc...z" then "\nsent 65536 cycles=N\n"
 */
#include <math.h>
#include <stdint.h>

#include "hal.h"

static void put_str(const char *s)
{
    const char *e = s;
    while (*e) {
        e++;
    }
    hal_uart_write((const uint8_t *)s, (uint32_t)(e - s));
}

static void put_u64(uint64_t v)
{
    char buf[24];
    int i = (int)sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    hal_uart_write((const uint8_t *)buf + i, (uint32_t)(sizeof buf - (unsigned)i));
}

static void put_kv(const char *key, uint64_t v)
{
    put_str(key);
    put_u64(v);
}

#if defined(__arm__)
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
static void dwt_start(void)
{
    DEMCR |= 1u << 24;   /* TRCENA */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;      /* CYCCNTENA */
}
static uint32_t dwt_read(void)
{
    return DWT_CYCCNT;
}
#else
static void dwt_start(void) {}
static uint32_t dwt_read(void)
{
    return 0;
}
#endif

static volatile float sink;

static void float_work(void)
{
    dwt_start();
    uint32_t d0 = dwt_read();
    uint64_t t0 = hal_cycles();
    float acc = 0.0f;
    for (int i = 0; i < 1000; i++) {
        volatile float x = (float)i * 0.01f;
        acc += sinf(x) + sqrtf(x) * expf(-x);
    }
    uint64_t t1 = hal_cycles();
    uint32_t d1 = dwt_read();
    sink = acc;
    uint32_t flash, ram;
    hal_footprint(&flash, &ram);
    put_kv("\nfloat sum_x1e3=", (uint64_t)(int64_t)(acc * 1000.0f));
    put_kv(" cycles=", t1 - t0);
    put_kv(" dwt=", d1 - d0);
    put_kv(" stack_used=", hal_stack_high_water());
    put_kv(" stack_size=", hal_stack_size());
    put_kv(" flash=", flash);
    put_kv(" ram=", ram);
    put_str("\n");
}

static void calibrate(void)
{
    uint64_t t0 = hal_cycles();
#if defined(__arm__)
    uint32_t n = 10000000u;
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) :: "cc");
#endif
    uint64_t t1 = hal_cycles();
    put_kv("\ncalibrate 2x10M insns cycles=", t1 - t0);
    put_str("\n");
}

static void timeout_probe(void)
{
    uint64_t t0 = hal_cycles();
    int r = hal_uart_getc(250);
    uint64_t t1 = hal_cycles();
    put_str("\ntimeout r=");
    put_str(r < 0 ? "-1" : "byte");
    put_kv(" cycles=", t1 - t0);
    put_kv(" ms=", (t1 - t0) * 1000u / hal_cycles_hz());
    put_str("\n");
}

static void transmit_test(void)
{
    uint8_t block[256];
    for (unsigned i = 0; i < sizeof block; i++) {
        block[i] = (uint8_t)('a' + i % 26u);
    }
    uint64_t t0 = hal_cycles();
    for (int i = 0; i < 256; i++) {
        hal_uart_write(block, sizeof block);
    }
    uint64_t t1 = hal_cycles();
    put_kv("\nsent 65536 cycles=", t1 - t0);
    put_str("\n");
}

static volatile uint32_t recurse_limit = 0xFFFFFFFFu;

__attribute__((noinline)) static uint32_t recurse(uint32_t depth)
{
    volatile uint32_t pad[64];
    pad[0] = depth;
    if (depth >= recurse_limit) {
        return pad[0];
    }
    return recurse(depth + 1) + pad[0];
}

int main(void)
{
    hal_init();
    put_str("kenning-mcu ready ");
    put_str(hal_board());
    put_str(" ");
    put_str(hal_cpu());
    put_str(" ");
    put_u64(hal_cycles_hz());
    put_str("\n");
    for (;;) {
        int c = hal_uart_getc(1000);
        if (c < 0) {
            continue;
        }
        switch (c) {
        case '!':
            float_work();
            break;
        case '=':
            calibrate();
            break;
        case '?':
            timeout_probe();
            break;
        case '%':
            put_str("\nrecursing\n");
            sink = (float)recurse(0);
            break;
        case '#':
            put_str("\nfaulting\n");
            sink = (float)*(volatile uint32_t *)0xFFFFFFF0u;
            break;
        case 'T':
            transmit_test();
            break;
        case '@':
            hal_fault_reset();
            break;
        default: {
            uint8_t b = (uint8_t)c;
            hal_uart_write(&b, 1);
        }
        }
    }
}
