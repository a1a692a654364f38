/* The BMC firmware's confirmation after a healthy boot: image_ok in the slot on trial (complete,
 * started once, not yet confirmed: at most one slot is, the one the boot stage started). One word
 * program; until it lands, the next reset reverts. Linked into the firmware, which runs from RAM. */
#include "slots.h"
#include "trailer.h"

int cmu610_confirm(const struct cmu610_domain *d)
{
    for (uint32_t i = 0; i < d->nslots; i++) {
        const struct cmu610_slot *s = &d->slot[i];
        struct cmu610_state st = cmu610_state_of(s);
        if (s->trailer && st.complete && st.copy_done == CMU610_FLAG_SET && st.image_ok != CMU610_FLAG_SET) {
            cmu610_program(cmu610_trailer_word(s, CMU610_TRAILER_IMAGE_OK), CMU610_FLAG_WORD);
            return 1;
        }
    }
    return 0;
}
