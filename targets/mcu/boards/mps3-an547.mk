# QEMU mps3-an547: Cortex-M55 (FPU + MVE, boots Secure), 32 MHz, UART0 (CMSDK) at 0x49303000 / Secure 0x59303000.
CROSS        := arm-none-eabi-
CPU_FLAGS    := -mcpu=cortex-m55 -mthumb -mfloat-abi=hard
BOARD_CFLAGS := -DHAL_BOARD_MPS3_AN547
HAL_SRC      := hal_mps.c
LDSCRIPT     := boards/mps3-an547.ld
QEMU_MACHINE := mps3-an547
QEMU_CPU     := cortex-m55
