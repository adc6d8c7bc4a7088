/* HAL for the QEMU MPS2/MPS3 boards: CMSDK APB UART (polled) and SysTick.
 *
 * One file for both boards, which differ only in addresses and clocks; the board's .mk
 * defines HAL_BOARD_MPS2_AN386 or HAL_BOARD_MPS3_AN547.
 *   mps2-an386 (QEMU hw/arm/mps2.c): UART0 0x40004000, SYSCLK 25 MHz drives the core and SysTick.
 *   mps3-an547 (QEMU hw/arm/mps2-tz.c, SSE-300): UART0 0x49303000 (non-secure alias), Secure
 *     alias 0x59303000 used here because the M55 boots Secure; MAINCLK 32 MHz drives the
 *     core and SysTick (the UART's APB clock is 25 MHz).
 * QEMU does not implement DWT->CYCCNT on M-profile (it reads 0), so cycles come from SysTick.
 */
#include <stdint.h>

#include "hal.h"

#if defined(HAL_BOARD_MPS2_AN386)
#define BOARD_NAME "mps2-an386"
#define CPU_NAME "cortex-m4"
#define UART0_BASE_DEFAULT 0x40004000u
#define CORE_HZ 25000000u
#define UART_PCLK_HZ 25000000u
#define UART0_IRQ_WORD 0u
#define UART0_IRQ_MASK (1u << 0)   /* mps2.c: UART0 RX is external IRQ 0 (TX is 1) */
#elif defined(HAL_BOARD_MPS3_AN547)
#define BOARD_NAME "mps3-an547"
#define CPU_NAME "cortex-m55"
#define UART0_BASE_DEFAULT 0x59303000u
#define CORE_HZ 32000000u
#define UART_PCLK_HZ 25000000u
/* mps2-tz.c an547_ppcs: uart0 on IRQs 33 and 34 (the SSE-300 keeps 0-31 for itself, so these
 * are NVIC external IRQs 33/34, ISER1 bits 1/2). Both enabled: only RXINTEN is ever set. */
#define UART0_IRQ_WORD 1u
#define UART0_IRQ_MASK ((1u << 1) | (1u << 2))
#else
#error "define HAL_BOARD_MPS2_AN386 or HAL_BOARD_MPS3_AN547 (see boards/*.mk)"
#endif

#ifndef UART0_BASE   /* -DUART0_BASE=... to try another UART */
#define UART0_BASE UART0_BASE_DEFAULT
#endif

#define BAUD 115200u
#define STACK_PAINT 0xA5A5A5A5u

/* CMSDK APB UART */
#define UART_DATA (*(volatile uint32_t *)(UART0_BASE + 0x00u))
#define UART_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART_INTCLEAR (*(volatile uint32_t *)(UART0_BASE + 0x0Cu))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0_BASE + 0x10u))
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u
#define UART_CTRL_TXEN 0x1u
#define UART_CTRL_RXEN 0x2u
#define UART_CTRL_RXINTEN 0x8u

/* System control space */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define NVIC_ISER ((volatile uint32_t *)0xE000E100u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define ICSR_PENDSTSET (1u << 26)
/* SysTick wraps every millisecond: the wrap interrupt extends it to 64 bits and wakes WFI, so
 * a timeout ends within 1 ms of its deadline. */
#define SYST_RELOAD (CORE_HZ / 1000u - 1u)

extern uint32_t _sstack[], _estack[], _shstack[], _ehstack[];
extern uint8_t __flash_start[], __flash_end[], __ram_start[], __heap_start[];

void SysTick_Handler(void);
void ExternalIRQ_Handler(void);

static volatile uint32_t systick_wraps;
static uint64_t cycles_last;

void SysTick_Handler(void)
{
    systick_wraps++;
}

/* The UART's RX interrupt only wakes hal_uart_getc from WFI: clear it and return. */
void ExternalIRQ_Handler(void)
{
    UART_INTCLEAR = 0xFu;
}

static void uart_enable(void)
{
    const uint32_t on = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN;
    if ((UART_CTRL & on) != on) {
        UART_BAUDDIV = UART_PCLK_HZ / BAUD;   /* QEMU does not pace by baud; >= 16 keeps it quiet */
        UART_CTRL = on;
    }
}

void hal_init(void)
{
    /* Reset_Handler already did this and painted the stack; repeated so hal_init stands alone. */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    uart_enable();
    SYST_CSR = 0;
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;
    systick_wraps = 0;
    cycles_last = 0;
    SYST_CSR = 0x7u;   /* processor clock, interrupt on wrap, enabled */
    NVIC_ISER[UART0_IRQ_WORD] = UART0_IRQ_MASK;
    __asm__ volatile("cpsie i" ::: "memory");
}

uint64_t hal_cycles(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) :: "memory");
    uint32_t val = SYST_CVR;
    uint32_t wraps = systick_wraps;
    if (SCB_ICSR & ICSR_PENDSTSET) {
        /* Wrapped, handler not run yet: the value read before may be from either side. */
        val = SYST_CVR;
        wraps++;
    }
    uint64_t now = (uint64_t)wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - (val & 0x00FFFFFFu));
    if (now < cycles_last) {
        now = cycles_last;   /* never step backwards */
    }
    cycles_last = now;
    __asm__ volatile("msr primask, %0" :: "r"(primask) : "memory");
    return now;
}

uint32_t hal_cycles_hz(void)
{
    return CORE_HZ;
}

int hal_uart_getc(uint32_t timeout_ms)
{
    if (UART_STATE & UART_STATE_RXFULL) {
        return (int)(UART_DATA & 0xFFu);
    }
    uint64_t deadline = hal_cycles() + (uint64_t)timeout_ms * (CORE_HZ / 1000u);
    for (;;) {
        if (UART_STATE & UART_STATE_RXFULL) {
            return (int)(UART_DATA & 0xFFu);
        }
        if (hal_cycles() >= deadline) {
            return -1;
        }
        /* Sleep until the UART RX or the 1 ms SysTick interrupt. With PRIMASK set, a byte that
         * arrives after the check still wakes WFI (pending), so none is slept through. Under QEMU
         * an idle WFI lets -icount advance virtual time at host speed instead of burning it. */
        __asm__ volatile("cpsid i" ::: "memory");
        if (!(UART_STATE & UART_STATE_RXFULL)) {
            __asm__ volatile("dsb\n\twfi" ::: "memory");
        }
        __asm__ volatile("cpsie i\n\tisb" ::: "memory");
    }
}

void hal_uart_write(const uint8_t *p, uint32_t n)
{
    uart_enable();
    for (uint32_t i = 0; i < n; i++) {
        while (UART_STATE & UART_STATE_TXFULL) {
        }
        UART_DATA = p[i];
    }
}

uint32_t hal_stack_size(void)
{
    return (uint32_t)((uintptr_t)_estack - (uintptr_t)_sstack);
}

uint32_t hal_stack_high_water(void)
{
    const volatile uint32_t *w = _sstack;
    while (w < _estack && *w == STACK_PAINT) {
        w++;
    }
    return (uint32_t)((uintptr_t)_estack - (uintptr_t)w);
}

void hal_footprint(uint32_t *flash_bytes, uint32_t *ram_bytes)
{
    /* flash: vectors, text, rodata, tables and the .data image; ram: both stacks, .data, .bss */
    *flash_bytes = (uint32_t)((uintptr_t)__flash_end - (uintptr_t)__flash_start);
    *ram_bytes = (uint32_t)((uintptr_t)__heap_start - (uintptr_t)__ram_start);
}

const char *hal_board(void)
{
    return BOARD_NAME;
}

const char *hal_cpu(void)
{
    return CPU_NAME;
}

void hal_fault_reset(void)
{
    static const char msg[] = "\nkenning-mcu: fault reset\n";
    hal_uart_write((const uint8_t *)msg, sizeof msg - 1);
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = (0x05FAu << 16) | (1u << 2);   /* SYSRESETREQ */
    __asm__ volatile("dsb" ::: "memory");
    for (;;) {
        __asm__ volatile("nop");
    }
}
