/*
 * Confirm the A/B slot on trial (cmu610_confirm.h). Each A/B slot ends in MCUboot's image trailer
 * as cmu610bsp/flash.py writes it and the boot stage (slots.c) reads it: the 16-byte boot magic
 * at the slot's last bytes, image_ok 8 bytes before it, copy_done 8 before that. The slot on trial
 * is the one with the magic, copy_done set (the boot stage started it) and image_ok not set; at
 * most one is. Confirming it is one CFI word program of image_ok (the flash's command set, as the
 * boot stage's flashprog.S: this firmware runs from RAM, so it can read the flash's status).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zephyr/devicetree.h>
#include <zephyr/irq.h>
#include <zephyr/sys/util.h>

#include "cmu610_confirm.h"

#define SLOTS DT_NODELABEL(cmu610_ab_slots)
#define FLAG_SET 0x01u
#define OFF_MAGIC 16u
#define OFF_IMAGE_OK 24u
#define OFF_COPY_DONE 32u

static const uint8_t boot_magic[16] = {0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f,
				       0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80};

struct slot {
	uintptr_t end; /* the address one past the slot's last byte */
	const char *name;
};

/* Each slot's partition: its flash's address plus the partition's offset and size. */
#define SLOT(node, prop, idx)                                                                      \
	{DT_REG_ADDR(DT_GPARENT(DT_PHANDLE_BY_IDX(node, prop, idx))) +                             \
		 DT_REG_ADDR(DT_PHANDLE_BY_IDX(node, prop, idx)) +                                 \
		 DT_REG_SIZE(DT_PHANDLE_BY_IDX(node, prop, idx)),                                  \
	 DT_PROP(DT_PHANDLE_BY_IDX(node, prop, idx), label)},

#if DT_NODE_EXISTS(SLOTS)
static const struct slot slots[] = {DT_FOREACH_PROP_ELEM(SLOTS, slots, SLOT)};
#else
static const struct slot slots[] = {{0, ""}}; /* no A/B slots: nothing is ever on trial */
#endif

static uint8_t byte_at(uintptr_t addr)
{
	return *(volatile const uint8_t *)addr;
}

/* One word program, then back to read-array mode; 0 if the flash reads the value back. */
static int program(uintptr_t addr, uint32_t value)
{
	volatile uint32_t *word = (volatile uint32_t *)addr;
	unsigned int key = irq_lock();

	*word = 0x40; /* word program */
	*word = value;
	while (!(*word & 0x80)) { /* status: ready */
	}
	*word = 0x50; /* clear status */
	*word = 0xff; /* read array */
	irq_unlock(key);
	return *word == value ? 0 : -EIO;
}

int cmu610_confirm(const char **name)
{
	for (size_t i = 0; i < ARRAY_SIZE(slots) && slots[i].end; i++) {
		uintptr_t end = slots[i].end;
		uint8_t magic[16];

		for (size_t k = 0; k < sizeof(magic); k++) {
			magic[k] = byte_at(end - OFF_MAGIC + k);
		}
		if (memcmp(magic, boot_magic, sizeof(magic)) != 0 ||
		    byte_at(end - OFF_COPY_DONE) != FLAG_SET || byte_at(end - OFF_IMAGE_OK) == FLAG_SET) {
			continue;
		}
		*name = slots[i].name;
		return program(end - OFF_IMAGE_OK, 0xffffff00u | FLAG_SET) == 0 ? 1 : -EIO;
	}
	return 0;
}
