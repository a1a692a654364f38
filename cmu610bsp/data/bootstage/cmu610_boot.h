/*
 * What the boot stage's parts share: a domain's firmware slots and RAM window (from the generated
 * cmu610_boot_config.h), and what verification found in a slot. Slot selection asks
 * cmu610_verify() whether a slot's image may run and, if not, why.
 */
#ifndef CMU610_BOOT_H
#define CMU610_BOOT_H
#include <stdint.h>
#include <string.h>             /* libc/string.h: memcpy and memset are libc.c's */

struct cmu610_slot { uint32_t offset, size; const char *name; };
struct cmu610_domain {
    const char *name;
    uint32_t hart, ram_base, ram_size;
    uint32_t otp_offset;          /* its anti-rollback counter, in flash (cmu610bsp/mcuimage.py) */
    uint32_t nslots;
    struct cmu610_slot slot[2];
};
/* A verified image: what to copy where, and what it claims. */
struct cmu610_image {
    const uint8_t *payload;       /* the image's bytes in flash, behind the MCUboot header */
    uint32_t size, load, entry, security_counter;
    uint8_t major, minor;
    uint16_t revision;
};

/* NULL if the MCUboot image in slot `s` is signed by a key whose hash is in the keys partition,
 * is whole, is for domain `d`'s hart and RAM, and is not below the domain's anti-rollback
 * counter (`out` filled in); else the reason, for the console. */
const char *cmu610_verify(const struct cmu610_domain *d, const struct cmu610_slot *s, struct cmu610_image *out);

/* The domain's anti-rollback counter: the cleared bits of its OTP region (they only grow). */
uint32_t cmu610_otp_read(const struct cmu610_domain *d);
#endif
