# QEMU mps2-an386: Cortex-M4F, 25 MHz, UART0 (CMSDK) at 0x40004000.
CROSS        := arm-none-eabi-
CPU_FLAGS    := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
BOARD_CFLAGS := -DHAL_BOARD_MPS2_AN386
HAL_SRC      := hal_mps.c
LDSCRIPT     := boards/mps2-an386.ld
QEMU_MACHINE := mps2-an386
QEMU_CPU     := cortex-m4
