/* A/B slot selection with trial, confirm and revert (slots.c), the flash writes it needs (flashprog.S). */
#ifndef CMU610_SLOTS_H
#define CMU610_SLOTS_H
#include "image.h"

/* The slot of `d` to boot on `hart` with its image in *img, or -1: the newest valid slot (highest
 * generation), started once on trial (*trial = 1) when unconfirmed, reverted when a trial went
 * unconfirmed. It writes the flash: nothing else may run from it meanwhile. */
int cmu610_select(const struct cmu610_domain *d, uint32_t hart, struct cmu610_image *img, int *trial);

/* The BMC firmware's "booted healthy" (confirm.c, linked into the firmware, which runs from RAM):
 * confirm the slot on trial (image_ok). 1 if one was on trial, 0 if none was. */
int cmu610_confirm(const struct cmu610_domain *d);
#endif
