/*
 * The one reader, in the firmware, of what a firmware partition's image header says about its
 * image: its version. The header is written by cmu610bsp's flash.py (the layer's
 * cmu610_flash.py) and checked by the boot stage; should its format change (to MCUboot's, say),
 * this reader changes with it and nothing else does.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_IMAGE_H_
#define CMU610_IMAGE_H_

#include <stddef.h>
#include <stdint.h>

struct cmu610_image_version {
	uint8_t major;
	uint8_t minor;
	uint16_t revision;
};

/*
 * The version of the image whose header starts at `header` (`size` bytes readable there): 0, or
 * -ENOENT when no valid header is there (erased flash, another magic, a bad CRC) or it gives no
 * version, -ENOTSUP for a header format this firmware does not read.
 */
int cmu610_image_version(const uint8_t *header, size_t size, struct cmu610_image_version *out);

#endif /* CMU610_IMAGE_H_ */
