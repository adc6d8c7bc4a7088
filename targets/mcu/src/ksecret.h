/* The run's secret, written into a copy of the firmware's ELF by kenning before the board
 * starts (kenning.boards.mcu.provision): never on a command line, never sent on the line. */
#ifndef KSECRET_H
#define KSECRET_H

#include <stdint.h>

#define KSECRET_MAX 128u

typedef struct {
    char magic[16];              /* "kenning-secret1\0": how kenning finds it in the ELF */
    uint32_t length;             /* 0: not provisioned (every AUTH is refused) */
    uint8_t bytes[KSECRET_MAX];
} ksecret;

extern const volatile ksecret kenning_secret;

#endif
