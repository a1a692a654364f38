/* Two-hart RV32 entry for QEMU virt with -bios none: every hart starts here (the -kernel path passes a0 = hart id, the loader device does not: read mhartid). */
    .section .text.start
    .globl _start
_start:
    csrr a0, mhartid         /* the loader device does not pass the hart id in a0 */
    csrw mie, zero
    la   sp, __stack_top
    slli t0, a0, 12          /* 4 KiB of stack per hart */
    sub  sp, sp, t0
    call fw_main
1:  wfi
    j 1b
