/* What the boot stage's parts share: a domain's slots (from the generated config), an image found
 * valid in one, and the one question slot selection asks verification (verify.c). */
#ifndef CMU610_IMAGE_H
#define CMU610_IMAGE_H
#include <stdint.h>
#include <string.h>             /* libc/string.h: memcpy and memset are libc.c's */

/* A firmware partition: where it is in flash, its size, its name, and whether it ends in an A/B
 * trailer (then the image must leave the trailer's bytes free). */
struct cmu610_slot { uint32_t offset, size; const char *name; uint32_t trailer; };
struct cmu610_domain {
    const char *name;
    uint32_t ram_base, ram_size, nslots;
    struct cmu610_slot slot[2];
};
/* A valid image: its bytes in flash, where they are copied, where the hart jumps; and what its
 * signed TLVs and header claim. */
struct cmu610_image {
    const uint8_t *data;
    uint32_t load, entry, size;
    uint32_t security_counter;
    uint8_t major, minor;
    uint16_t revision;
};

/* Is the image in `s` (its image area: the partition less its trailer) one that `hart` may run in
 * domain `d`? An MCUboot image signed by a key whose hash is in the keys partition, whole, for
 * this hart and the domain's RAM, not below the hart's anti-rollback counter. NULL with *img
 * filled if so, else the reason, a short phrase for the console. */
const char *cmu610_verify(const struct cmu610_domain *d, const struct cmu610_slot *s, uint32_t hart,
                          struct cmu610_image *img);

/* The hart's anti-rollback counter (otp.c): the cleared bits of its OTP region in the keys
 * partition (flash programming only clears bits, so it only grows). */
uint32_t cmu610_otp_read(uint32_t hart);

/* Raise the hart's anti-rollback counter to `value` (never lower it) with `program`, a word
 * program that runs from RAM (flashprog.S): for the image a hart runs once it is confirmed (a
 * domain's only slot, or an A/B slot whose trial its firmware confirmed). */
typedef void cmu610_program_fn(volatile uint32_t *word, uint32_t value);
void cmu610_otp_advance(uint32_t hart, uint32_t value, cmu610_program_fn *program);
#endif
