/*
 * The image header's version (cmu610_image.h). Layout (little-endian), as cmu610bsp/flash.py
 * writes it:
 *    0 magic "C610"   4 header version u16   6 header size u16   8 load address   12 entry
 *   16 image size    20 hart   24 sha256 (32 bytes)   56 image version: major u8, minor u8,
 *   revision u16 (0: the image has none)   60 CRC-32 (zlib's) of bytes 0..59
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/sys/byteorder.h>
#include <zephyr/sys/crc.h>

#include "cmu610_image.h"

#define HEADER_MAGIC   0x30313643u /* "C610" */
#define HEADER_VERSION 1u
#define HEADER_SIZE    64u

int cmu610_image_version(const uint8_t *header, size_t size, struct cmu610_image_version *out)
{
	uint8_t h[HEADER_SIZE];

	if (size < HEADER_SIZE) {
		return -ENOENT;
	}
	memcpy(h, header, sizeof(h));
	if (sys_get_le32(&h[0]) != HEADER_MAGIC ||
	    sys_get_le32(&h[60]) != crc32_ieee(h, HEADER_SIZE - 4)) {
		return -ENOENT;
	}
	if (sys_get_le16(&h[4]) != HEADER_VERSION || sys_get_le16(&h[6]) != HEADER_SIZE) {
		return -ENOTSUP;
	}
	if (sys_get_le32(&h[56]) == 0) {
		return -ENOENT;
	}
	out->major = h[56];
	out->minor = h[57];
	out->revision = sys_get_le16(&h[58]);
	return 0;
}
