/*
 * The boot stage's otp.c on the host (tests/test_signing.py): the board's generated constants,
 * the flash an array. otp_host KEYS_FILE HART VALUE: reads the keys partition, advances the hart's
 * counter to VALUE with a word program that refuses to set a bit (as NOR flash cannot), writes
 * the partition back and prints the counter before and after and the words programmed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmu610_boot_config.h"
static uint8_t flash[CMU610_KEYS_OFFSET + 0x10000] __attribute__((aligned(4)));
#undef CMU610_FLASH_BASE
#define CMU610_FLASH_BASE ((uintptr_t)flash)
#include "otp.c"

static unsigned programmed;

static void program(volatile uint32_t *word, uint32_t value)
{
    if (value & ~*word) {
        fprintf(stderr, "sets a bit: %08x over %08x\n", value, *word);
        exit(3);
    }
    *word = value;
    programmed++;
}

int main(int argc, char **argv)
{
    if (argc != 4) return 2;
    FILE *f = fopen(argv[1], "rb");
    size_t n = f ? fread(flash + CMU610_KEYS_OFFSET, 1, 0x10000, f) : 0;
    if (!f || n != 0x10000) return 2;
    fclose(f);
    uint32_t hart = (uint32_t)strtoul(argv[2], 0, 0), before = cmu610_otp_read(hart);
    cmu610_otp_advance(hart, (uint32_t)strtoul(argv[3], 0, 0), program);
    printf("%u %u %u\n", before, cmu610_otp_read(hart), programmed);
    f = fopen(argv[1], "wb");
    if (!f || fwrite(flash + CMU610_KEYS_OFFSET, 1, 0x10000, f) != 0x10000) return 2;
    return fclose(f) ? 2 : 0;
}
