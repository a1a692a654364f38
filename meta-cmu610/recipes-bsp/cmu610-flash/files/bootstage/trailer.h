/* The A/B trailer at the end of a slot (cmu610bsp/flash.py: MCUboot's image trailer and our
 * generation word), read in place and written one CFI word program at a time. */
#ifndef CMU610_TRAILER_H
#define CMU610_TRAILER_H
#include "cmu610_boot_config.h"
#include "image.h"

#define CMU610_FLAG_SET 0x01u
/* A flag's word programmed to "set": its first byte 0x01, the rest of its unit left erased. */
#define CMU610_FLAG_WORD 0xffffff01u

struct cmu610_state { int complete; uint32_t image_ok, copy_done, generation; };

/* Position independent (flashprog.S): run from a RAM copy, never from the flash it programs. */
extern const char cmu610_flash_program[], cmu610_flash_program_end[];      /* a cmu610_program_fn (image.h) */

static inline volatile uint32_t *cmu610_trailer_word(const struct cmu610_slot *s, int32_t off)
{
    return (volatile uint32_t *)(CMU610_FLASH_BASE + s->offset + s->size + (uint32_t)off);
}

/* A slot without a trailer (a domain's only partition) is complete, confirmed, generation 0. */
static inline struct cmu610_state cmu610_state_of(const struct cmu610_slot *s)
{
    static const uint32_t magic[4] = {CMU610_BOOT_MAGIC};
    struct cmu610_state st = {1, CMU610_FLAG_SET, CMU610_FLAG_SET, 0};
    if (!s->trailer) return st;
    for (int i = 0; i < 4; i++)
        if (cmu610_trailer_word(s, CMU610_TRAILER_MAGIC)[i] != magic[i]) st.complete = 0;
    st.image_ok = *cmu610_trailer_word(s, CMU610_TRAILER_IMAGE_OK) & 0xff;
    st.copy_done = *cmu610_trailer_word(s, CMU610_TRAILER_COPY_DONE) & 0xff;
    st.generation = ~*cmu610_trailer_word(s, CMU610_TRAILER_GENERATION);
    return st;
}

/* Program one word of flash from a copy of cmu610_flash_program on this stack (RAM). */
static inline void cmu610_program(volatile uint32_t *word, uint32_t value)
{
    uint32_t code[32];
    const uint32_t *from = (const uint32_t *)(const void *)cmu610_flash_program;
    uint32_t n = (uint32_t)(cmu610_flash_program_end - cmu610_flash_program) / 4;
    if (n > sizeof code / 4) return;
    for (uint32_t i = 0; i < n; i++) code[i] = from[i];
    __asm__ volatile("fence.i" ::: "memory");
    ((cmu610_program_fn *)(void *)code)(word, value);
}
#endif
