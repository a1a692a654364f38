/* Every hart starts here, at the flash base (QEMU virt with -bios none and pflash unit 0; the
 * chip's reset vector). Each takes a stack at the top of its own domain's SRAM and enters C. */
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
    j    4f
2:  li   sp, CMU610_BMC_STACK_TOP
4:  call boot_main
    j    3b
