/*
 * The one reader, in the firmware, of what a firmware partition's image header says about its
 * image: its version. The image is MCUboot's format, written by imgtool through cmu610bsp's
 * mcuimage.py (the layer's cmu610_mcuimage.py) and verified by the boot stage; should its format
 * change, this reader changes with it and nothing else does.
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
 * -ENOENT when no MCUboot header is there (erased flash, another magic) or it gives no version
 * (0.0.0), -ENOTSUP for a header this firmware does not read (a header size below MCUboot's).
 * The signature is the boot stage's to check, before this firmware ran.
 */
int cmu610_image_version(const uint8_t *header, size_t size, struct cmu610_image_version *out);

#endif /* CMU610_IMAGE_H_ */
