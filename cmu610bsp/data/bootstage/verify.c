/* Is a slot's image one a hart may run: the header (magic, CRC, version), the hart, the sizes, the
 * RAM window, the entry point, the image's sha256 (cmu610bsp/flash.py writes the same layout). */
#include "cmu610_boot_config.h"
#include "image.h"
#include "sha256.h"

struct header {
    uint32_t magic;
    uint16_t version, header_size;
    uint32_t load, entry, size, hart;
    uint8_t sha256[32];
    uint32_t reserved, crc;
};
_Static_assert(sizeof(struct header) == CMU610_HEADER_SIZE, "header layout differs from cmu610bsp/flash.py");

static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

const char *cmu610_verify(const struct cmu610_domain *d, const struct cmu610_slot *s, uint32_t hart,
                          struct cmu610_image *img)
{
    const struct header *h = (const struct header *)(CMU610_FLASH_BASE + s->offset);
    uint8_t digest[32];
    uint32_t stack_bottom = d->ram_base + d->ram_size - CMU610_BOOT_STACK;
    if (h->magic != CMU610_HEADER_MAGIC) return "bad magic (no image header)";
    if (h->crc != crc32((const uint8_t *)h, CMU610_HEADER_SIZE - 4)) return "header CRC mismatch";
    if (h->version != CMU610_HEADER_VERSION || h->header_size != CMU610_HEADER_SIZE) return "unknown header version";
    if (h->hart != hart) return "image is for another hart";
    if (h->size > s->size - CMU610_HEADER_SIZE) return "image size runs past the partition";
    if (h->load < d->ram_base || h->load > stack_bottom || h->size > stack_bottom - h->load)
        return "image does not fit the domain's RAM";
    if (h->entry < h->load || h->entry - h->load >= h->size) return "entry point outside the image";
    sha256((const uint8_t *)(h + 1), h->size, digest);
    for (int i = 0; i < 32; i++)
        if (digest[i] != h->sha256[i]) return "sha256 mismatch";
    img->data = (const uint8_t *)(h + 1);
    img->load = h->load;
    img->entry = h->entry;
    img->size = h->size;
    return 0;
}
