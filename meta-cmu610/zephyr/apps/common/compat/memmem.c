/*
 * memmem for Zephyr's minimal libc (see include/string.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen)
{
	const unsigned char *h = haystack;

	if (needlelen == 0) {
		return (void *)haystack;
	}
	for (; haystacklen >= needlelen; h++, haystacklen--) {
		if (memcmp(h, needle, needlelen) == 0) {
			return (void *)h;
		}
	}
	return NULL;
}
