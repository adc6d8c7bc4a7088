/* The target server: the session of docs/protocol.md on a UART, for the model built into
 * this firmware (kenning_model.h). */
#ifndef KSERVER_H
#define KSERVER_H

/* Serve hosts on the UART, one session after another, forever. */
void kserver_run(void);

#endif
