/*
 * The power-cut test's update agent (tests/test_powercut.py, tests/guestupdate.py): a TEST
 * STAND-IN for the BMC firmware's PLDM update service, which is not built yet. It performs an
 * update's flash writes in the guest, as the firmware will on the chip, so that QEMU can be killed
 * in the middle of them; the order under test is cmu610bsp/update.py's: the host serialises the
 * operations of update.plan(...) (the plan `cmu610bsp update` applies) and QEMU's loader device
 * puts them in RAM at UPDATE_OPS. The agent applies them IN ORDER with the flash's CFI commands
 * (QEMU virt's pflash, Intel command set 0001, as confirm.c and flashprog.S): block erase
 * 0x20/0xD0 for an erase, word program 0x40 for each word of data, the status register polled
 * until ready, cleared (0x50), read-array mode (0xFF) again. Every command of an operation goes
 * to the word it acts on (an erase: its block's first word).
 *
 * The list (little-endian words): magic, count, then per operation kind (1 erase, 2 program),
 * flash offset, length in bytes, and for a program its data padded with 0xFF to whole words.
 * It runs from the BMC image's RAM; the secure hart waits in its own RAM: nothing fetches from
 * the flash while it is not in read-array mode.
 */
#include <stdint.h>

#include "cmu610_boot_config.h"

#define OPS_MAGIC 0x31504f55u   /* "UOP1" */
#define OP_ERASE 1u
#define OP_PROGRAM 2u
#define STATUS_READY 0x80u
#define STATUS_ERRORS 0x30u     /* erase error, program error */

/* Wait for the operation on `at` to finish, clear the status, back to read-array: its errors. */
static uint32_t finish(volatile uint32_t *at)
{
    uint32_t status;
    while (!((status = *at) & STATUS_READY)) { }
    *at = 0x50;
    *at = 0xff;
    return status & STATUS_ERRORS;
}

/* 0: no operation list in RAM; 1: every operation applied; 2: a malformed list (nothing past the
 * bad operation written); 3: the flash reported an error. */
int cmu610_update_agent(void)
{
    const volatile uint32_t *p = (const volatile uint32_t *)UPDATE_OPS;
    if (p[0] != OPS_MAGIC) return 0;
    uint32_t count = p[1];
    p += 2;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t kind = p[0], offset = p[1], length = p[2];
        volatile uint32_t *at = (volatile uint32_t *)(CMU610_FLASH_BASE + offset);
        p += 3;
        if (offset % 4) return 2;
        if (kind == OP_ERASE) {
            *at = 0x20;
            *at = 0xd0;
            if (finish(at)) return 3;
        } else if (kind == OP_PROGRAM) {
            for (uint32_t w = 0; w < (length + 3) / 4; w++) {
                at[w] = 0x40;
                at[w] = p[w];
                if (finish(&at[w])) return 3;
            }
            p += (length + 3) / 4;
        } else {
            return 2;
        }
    }
    return 1;
}
