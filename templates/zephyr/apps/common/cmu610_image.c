/*
 * The image header's version (cmu610_image.h). MCUboot's header (little-endian), as imgtool writes
 * it through cmu610bsp/mcuimage.py:
 *    0 magic 0x96f3b83d   4 load address   8 header size u16   10 protected TLV size u16
 *   12 image size   16 flags   20 version: major u8, minor u8, revision u16, build u32   28 pad
 * (version 0.0.0: the image has none)
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/sys/byteorder.h>

#include "cmu610_image.h"

#define IMAGE_MAGIC  0x96f3b83du
#define HEADER_SIZE  32u

int cmu610_image_version(const uint8_t *header, size_t size, struct cmu610_image_version *out)
{
	uint8_t h[HEADER_SIZE];

	if (size < HEADER_SIZE) {
		return -ENOENT;
	}
	memcpy(h, header, sizeof(h));
	if (sys_get_le32(&h[0]) != IMAGE_MAGIC) {
		return -ENOENT;
	}
	if (sys_get_le16(&h[8]) < HEADER_SIZE) {
		return -ENOTSUP;
	}
	if (h[20] == 0 && h[21] == 0 && sys_get_le16(&h[22]) == 0) {
		return -ENOENT;
	}
	out->major = h[20];
	out->minor = h[21];
	out->revision = sys_get_le16(&h[22]);
	return 0;
}
