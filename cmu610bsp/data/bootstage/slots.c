/*
 * A/B slot selection, MCUboot's direct-xip revert mode on our trailer (cmu610bsp/flash.py):
 * the complete slot (trailer magic) with the highest generation is tried first; an unconfirmed
 * one that was already started once (copy_done) is reverted (its magic zeroed, so it is never
 * chosen again) and the next is tried; an unconfirmed one not yet started gets copy_done before
 * it starts: one trial. A confirmed image (or a domain's only slot) raises the hart's anti-rollback
 * counter to its security counter (otp.c). Each write is one word program, and each state between two of them
 * leaves a complete, confirmed slot to fall back to (update.py never writes the confirmed one).
 */
#include "console.h"
#include "slots.h"
#include "trailer.h"

static void say(const struct cmu610_slot *s, const char *what, uint32_t more)
{
    cmu610_puts("boot: ");
    cmu610_puts(s->name);
    cmu610_puts(": ");
    cmu610_puts(what);
    cmu610_puts(more ? ", trying the next slot\r\n" : "\r\n");
}

int cmu610_select(const struct cmu610_domain *d, uint32_t hart, struct cmu610_image *img, int *trial)
{
    struct cmu610_state st[2];
    uint32_t left = 0;
    for (uint32_t i = 0; i < d->nslots; i++) {
        st[i] = cmu610_state_of(&d->slot[i]);
        if (st[i].complete) left |= 1u << i;
        else say(&d->slot[i], "no complete image (trailer magic unset)", 0);
    }
    while (left) {
        uint32_t i = 0;
        while (!(left & (1u << i))) i++;
        for (uint32_t j = i + 1; j < d->nslots; j++)
            if ((left & (1u << j)) && st[j].generation > st[i].generation) i = j;
        left &= ~(1u << i);
        const struct cmu610_slot *s = &d->slot[i];
        if (st[i].image_ok != CMU610_FLAG_SET && st[i].copy_done == CMU610_FLAG_SET) {
            for (int k = 0; k < 4; k++) cmu610_program(cmu610_trailer_word(s, CMU610_TRAILER_MAGIC) + k, 0);
            say(s, "its trial was not confirmed: reverted", left);
            continue;
        }
        struct cmu610_slot area = *s;
        if (s->trailer) area.size -= CMU610_TRAILER_SIZE;
        const char *why = cmu610_verify(d, &area, hart, img);
        if (why) {
            say(s, why, left);
            continue;
        }
        *trial = st[i].image_ok != CMU610_FLAG_SET;
        if (*trial) cmu610_program(cmu610_trailer_word(s, CMU610_TRAILER_COPY_DONE), CMU610_FLAG_WORD);
        else cmu610_otp_advance(hart, img->security_counter, cmu610_program);   /* confirmed: no way back below it */
        return (int)i;
    }
    return -1;
}
