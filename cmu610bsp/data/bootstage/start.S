/* Every hart starts here, at the flash base (QEMU virt with -bios none and pflash unit 0; the
 * chip's reset vector). Each takes a stack at the top of its own domain's SRAM and enters C; the
 * secure hart, the only one that verifies, first zeroes the boot stage's .bss (libsodium's few
 * variables), which the linker places in RAM below its stack. */
#include "cmu610_boot_config.h"

    .section .text.start, "ax"
    .globl _start
_start:
    csrw mie, zero
    csrr a0, mhartid
    li   t0, CMU610_SECURE_HART
    beq  a0, t0, 1f
    li   t0, CMU610_BMC_HART
    beq  a0, t0, 2f
3:  wfi                       /* a hart no domain runs on: parked */
    j    3b
1:  li   sp, CMU610_SECURE_STACK_TOP
    la   t0, __bss_start
    la   t1, __bss_end
5:  bgeu t0, t1, 4f
    sw   zero, 0(t0)
    addi t0, t0, 4
    j    5b
2:  li   sp, CMU610_BMC_STACK_TOP
4:  call boot_main
    j    3b
