/*
 * The anti-rollback counters: an OTP emulation in the keys partition (cmu610bsp/mcuimage.py), one
 * region of CMU610_OTP_BYTES per hart whose value is its number of cleared bits. Flash
 * programming only clears bits, so the value only grows; advancing clears the lowest set bits
 * first, a word at a time, each word written once.
 */
#include <stdint.h>

#include "cmu610_boot_config.h"
#include "image.h"

static volatile uint32_t *region(uint32_t hart)
{
    uint32_t at = hart == CMU610_SECURE_HART ? CMU610_SECURE_OTP : CMU610_BMC_OTP;
    return (volatile uint32_t *)(CMU610_FLASH_BASE + CMU610_KEYS_OFFSET + at);
}

static uint32_t cleared(uint32_t word)
{
    uint32_t n = 0;
    for (uint32_t b = ~word; b; b &= b - 1) n++;
    return n;
}

uint32_t cmu610_otp_read(uint32_t hart)
{
    volatile uint32_t *w = region(hart);
    uint32_t n = 0;
    for (uint32_t i = 0; i < CMU610_OTP_BYTES / 4; i++) n += cleared(w[i]);
    return n;
}

void cmu610_otp_advance(uint32_t hart, uint32_t value, cmu610_program_fn *program)
{
    volatile uint32_t *w = region(hart);
    uint32_t have = cmu610_otp_read(hart);
    for (uint32_t i = 0; i < CMU610_OTP_BYTES / 4 && have < value; i++) {
        uint32_t old = w[i], next = old;
        while (next && have < value) {
            next &= next - 1;           /* clear the lowest set bit */
            have++;
        }
        if (next != old) program(&w[i], next);
    }
}
