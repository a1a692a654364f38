/* What the boot stage's parts share: a domain's slots (from the generated config), an image found
 * valid in one, and the one question slot selection asks verification. */
#ifndef CMU610_IMAGE_H
#define CMU610_IMAGE_H
#include <stdint.h>

/* A firmware partition: where it is in flash, its size, its name, and whether it ends in an A/B
 * trailer (flash.py's trailer(): then the image must leave the trailer's bytes free). */
struct cmu610_slot { uint32_t offset, size; const char *name; uint32_t trailer; };
struct cmu610_domain {
    const char *name;
    uint32_t ram_base, ram_size, nslots;
    struct cmu610_slot slot[2];
};
/* A valid image: its bytes in flash, where they are copied, where the hart jumps. */
struct cmu610_image { const uint8_t *data; uint32_t load, entry, size; };

/* Is the image in `s` (its image area: the partition less its trailer) one that `hart` may run in
 * domain `d`? NULL with *img filled if so, else the reason, a short phrase for the console. */
const char *cmu610_verify(const struct cmu610_domain *d, const struct cmu610_slot *s, uint32_t hart,
                          struct cmu610_image *img);
#endif
