/* Board support for the kenning MCU target server.
 *
 * One interface, three implementations: hal_mps2.c (QEMU mps2-an386, Cortex-M4F),
 * hal_mps3.c (QEMU mps3-an547, Cortex-M55) and hal_host.c (Linux, stdin/stdout).
 * Times are emulated under QEMU (with -icount shift=0, one instruction = 1 ns of
 * virtual time): never report them as silicon time.
 */
#ifndef KENNING_MCU_HAL_H
#define KENNING_MCU_HAL_H

#include <stdint.h>

void hal_init(void);                     /* FPU on, UART on, tick timer running, stack painted */
int hal_uart_getc(uint32_t timeout_ms);  /* next received byte 0..255, or -1 after timeout_ms of (emulated) time */
void hal_uart_write(const uint8_t *p, uint32_t n);  /* blocking write of n bytes */
uint64_t hal_cycles(void);               /* monotonic count of core clock cycles (SysTick extended to 64 bits by its interrupt) */
uint32_t hal_cycles_hz(void);            /* the rate of hal_cycles */
uint32_t hal_stack_size(void);           /* bytes reserved for the main stack (from linker symbols) */
uint32_t hal_stack_high_water(void);     /* bytes of that stack ever used: painted at boot, scanned from the far end */
void hal_footprint(uint32_t *flash_bytes, uint32_t *ram_bytes); /* static: flash = text+rodata+data image; ram = data+bss+stacks */
const char *hal_board(void);             /* "mps2-an386", "mps3-an547" or "host" */
const char *hal_cpu(void);               /* "cortex-m4", "cortex-m55", "host" */
void hal_fault_reset(void);              /* never returns: used if something impossible happens */

#endif
