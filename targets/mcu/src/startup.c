/* Cortex-M start-up for the kenning MCU target server (QEMU mps2-an386, mps3-an547).
 *
 * Reset_Handler runs on the handler stack (MSP): it enables the FPU, copies .data from its
 * image in flash, zeroes .bss, paints the main stack, switches thread mode to the main stack
 * (PSP) and calls main(). Faults print "kenning-mcu: hard fault pc=0x..." on the UART and spin.
 * Also here: the newlib system calls (_sbrk, _write, ...) so -lc -lm link without semihosting.
 */
#if defined(__arm__)

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hal.h"

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];
extern uint32_t _sstack[], _estack[], _shstack[], _ehstack[];
extern uint8_t __heap_start[], __heap_end[];

int main(void);
void __libc_init_array(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);   /* in the board's hal file */
void kenning_fault_report(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr);

#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void MemManage_Handler(void) WEAK_DEFAULT;
void BusFault_Handler(void) WEAK_DEFAULT;
void UsageFault_Handler(void) WEAK_DEFAULT;
void SecureFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void ExternalIRQ_Handler(void) WEAK_DEFAULT;   /* the board's hal file handles the IRQs it enables */

#define N_EXTERNAL_IRQ 96   /* mps2-an386 has 32, mps3-an547 96 */

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t kenning_vectors[16 + N_EXTERNAL_IRQ] = {
    (vector_t)(uintptr_t)_ehstack,  /* initial MSP: the handler stack */
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,            /* v8-M only, reserved on v7-M */
    0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 ... 16 + N_EXTERNAL_IRQ - 1] = ExternalIRQ_Handler,
};

/* The loops below must stay plain loops: no memcpy/memset calls and no MVE/FPU
 * vectorisation before CPACR is set, and no library code at all before .data/.bss exist. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns", "no-tree-vectorize")))
void Reset_Handler(void)
{
    /* FPU (and MVE on the M55): full access for CP10 and CP11. */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    for (uint32_t *src = _sidata, *dst = _sdata; dst < _edata;) {
        *dst++ = *src++;
    }
    for (volatile uint32_t *dst = _sbss; dst < _ebss;) {
        *dst++ = 0;
    }
    /* Reset_Handler runs on the handler stack, so the whole main stack can be painted. */
    for (volatile uint32_t *p = _sstack; p < _estack;) {
        *p++ = STACK_PAINT;
    }

#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* v8-M stack limits: an overflow becomes a UsageFault (STKOF) instead of a silent overwrite. */
    __asm__ volatile("msr msplim, %0" :: "r"(_shstack));
    __asm__ volatile("msr psplim, %0" :: "r"(_sstack));
#elif defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_7M__)
    /* v7-M has no stack limit registers, and QEMU's mps2 maps 0x1xxxxxxx as a RAZ/WI
     * "unimplemented device" (no bus fault), so a main-stack overflow would pass silently: an MPU
     * region makes the 256 MiB below RAM (0x10000000-0x1fffffff) no-access. The stack is the
     * first thing in RAM, so any overflow, however large the frame, lands there. */
    *(volatile uint32_t *)0xE000ED98u = 0;                             /* MPU_RNR: region 0 */
    *(volatile uint32_t *)0xE000ED9Cu = 0x10000000u;                   /* MPU_RBAR */
    *(volatile uint32_t *)0xE000EDA0u = (1u << 28) | (27u << 1) | 1u;  /* XN, no access, 2^28 bytes, on */
    *(volatile uint32_t *)0xE000ED94u = (1u << 2) | 1u;                /* MPU on, default map elsewhere */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    /* Thread mode runs main on the main stack (PSP); exceptions use the handler stack (MSP), so a
     * main-stack overflow still leaves the fault handler a stack to print from. */
    __asm__ volatile(
        "msr psp, %0\n\t"
        "mrs r0, control\n\t"
        "orr r0, r0, #2\n\t"
        "msr control, r0\n\t"
        "isb\n\t"
        :: "r"(_estack) : "r0", "memory");

    __libc_init_array();
    (void)main();
    for (;;) {
        __asm__ volatile("wfi");
    }
}

/* __libc_init_array calls _init; there are no crti/crtn (-nostartfiles). */
void _init(void) {}
void _fini(void) {}

/* Fault handling: works out which stack the exception frame is on, then reports it. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mov r1, lr\n\t"
        "mrs r2, ipsr\n\t"
        "b kenning_fault_report\n\t");
}

/* Any other unexpected exception is reported the same way (kenning_fault_report names it). */
void Default_Handler(void) __attribute__((alias("HardFault_Handler")));

static char *put_hex(char *p, const char *label, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    while (*label) {
        *p++ = *label++;
    }
    *p++ = '0';
    *p++ = 'x';
    for (int shift = 28; shift >= 0; shift -= 4) {
        *p++ = digits[(v >> shift) & 0xFu];
    }
    return p;
}

static int frame_readable(const uint32_t *frame)
{
    uintptr_t a = (uintptr_t)frame;
    return a >= (uintptr_t)_sstack && a + 32 <= (uintptr_t)_ehstack;
}

__attribute__((noreturn, used))
void kenning_fault_report(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr)
{
    volatile uint32_t *const scb = (volatile uint32_t *)0xE000ED00u;
    char line[160];
    char *p = line;
    uint32_t pc = 0, lr = 0;

    if (frame_readable(frame)) {
        lr = frame[5];
        pc = frame[6];
    }
    const char *head = (ipsr & 0x1FFu) == 3 ? "\nkenning-mcu: hard fault " : "\nkenning-mcu: unexpected exception ";
    while (*head) {
        *p++ = *head++;
    }
    p = put_hex(p, "pc=", pc);
    p = put_hex(p, " lr=", lr);
    p = put_hex(p, " exc=", ipsr & 0x1FFu);
    p = put_hex(p, " cfsr=", scb[0x28 / 4]);
    p = put_hex(p, " hfsr=", scb[0x2C / 4]);
    p = put_hex(p, " bfar=", scb[0x38 / 4]);
    p = put_hex(p, " sp=", (uint32_t)(uintptr_t)frame);
    p = put_hex(p, " excret=", exc_return);
    *p++ = '\n';
    hal_uart_write((const uint8_t *)line, (uint32_t)(p - line));
    for (;;) {
        __asm__ volatile("nop");
    }
}

/* ---- newlib system calls ---- */

void *_sbrk(ptrdiff_t incr)
{
    static uint8_t *brk = __heap_start;
    uint8_t *old = brk;
    if (incr < 0 ? (size_t)(-incr) > (size_t)(brk - __heap_start)
                 : (size_t)incr > (size_t)(__heap_end - brk)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += incr;
    return old;
}

int _write(int fd, const char *buf, int len)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    hal_uart_write((const uint8_t *)buf, (uint32_t)len);
    return len;
}

int _read(int fd, char *buf, int len)
{
    (void)fd;
    (void)buf;
    (void)len;
    return 0;
}

int _close(int fd)
{
    (void)fd;
    return -1;
}

int _fstat(int fd, struct stat *st)
{
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}

int _isatty(int fd)
{
    (void)fd;
    return 1;
}

int _lseek(int fd, int offset, int whence)
{
    (void)fd;
    (void)offset;
    (void)whence;
    return 0;
}

int _getpid(void)
{
    return 1;
}

int _kill(int pid, int sig)
{
    (void)pid;
    (void)sig;
    errno = EINVAL;
    return -1;
}

__attribute__((noreturn)) void _exit(int status)
{
    (void)status;
    hal_fault_reset();
    for (;;) {
    }
}

#else
/* Host build: nothing here (the host HAL is hal_host.c). */
typedef int kenning_startup_unused_t;
#endif
