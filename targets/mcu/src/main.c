/* The firmware: bring the board up, say so on the UART, serve hosts forever. */
#include "hal.h"
#include "kenning_model.h"
#include "kfmt.h"
#include "kserver.h"

int main(void)
{
    char line[160];
    kfmt f;
    hal_init();
    kf_init(&f, line, sizeof line);
    kf_str(&f, "kenning-mcu ready board=");
    kf_str(&f, hal_board());
    kf_str(&f, " cpu=");
    kf_str(&f, hal_cpu());
    kf_str(&f, " model=");
    kf_hex(&f, kenning_model_sha256, 32);
    kf_str(&f, "\n");
    hal_uart_write((const uint8_t *)kf_text(&f), f.len);
    kserver_run();
    return 0;
}
