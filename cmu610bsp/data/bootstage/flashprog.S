/* Flash writes and the BMC hart's parking place. Both routines are position independent: they run
 * from RAM, because while the flash programs, reads of it return the CFI status register, not code
 * (QEMU virt's pflash, Intel/Sharp CFI command set 0001, as the chip's NOR flash). */
    .section .text.flashprog, "ax"
    .balign 4
    .globl cmu610_flash_program, cmu610_flash_program_end
/* void program(volatile uint32_t *word a0, uint32_t value a1) */
cmu610_flash_program:
    li   t0, 0x40            /* word program */
    sw   t0, 0(a0)
    sw   a1, 0(a0)
1:  lw   t1, 0(a0)           /* status register: bit 7 = ready */
    andi t1, t1, 0x80
    beqz t1, 1b
    li   t0, 0x50            /* clear status */
    sw   t0, 0(a0)
    li   t0, 0xff            /* back to read-array mode */
    sw   t0, 0(a0)
    lw   t1, 0(a0)           /* the array again before returning to code that reads it */
    ret
    .balign 4
cmu610_flash_program_end:

    .globl cmu610_park, cmu610_park_end
/* The BMC hart waits here, in its own RAM, while the secure hart checks its image and writes the
 * slots' trailers: void park(hart a0, mailbox a1, own MSIP a2, secure hart's MSIP a3).
 * mailbox[0] = 1 says it is parked; it wakes on its software interrupt, jumps to mailbox[1]. */
cmu610_park:
    sw   zero, 4(a1)
    fence w, w
    li   t0, 1
    sw   t0, 0(a1)           /* parked: from here on this hart fetches nothing from flash */
    li   t2, 8               /* mie.MSIE */
    csrs mie, t2
1:  csrr t1, mip
    and  t1, t1, t2
    bnez t1, 2f
    wfi
    j    1b
2:  sw   zero, 0(a2)         /* clear our software interrupt */
    csrc mie, t2
    fence r, r
    lw   t1, 4(a1)           /* the entry point the secure hart left */
    fence.i                  /* the image it copied is code now */
    li   t0, 1
    sw   t0, 0(a3)           /* answer: the secure hart may go on */
    jr   t1                  /* a0 = hart id */
    .balign 4
cmu610_park_end:
