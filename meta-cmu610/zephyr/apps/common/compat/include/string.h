/*
 * memmem, a GNU extension libpldm's msgbuf uses, is not in Zephyr's minimal libc (compat/memmem.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_COMPAT_STRING_H_
#define CMU610_COMPAT_STRING_H_

#include_next <string.h>

void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);

#endif /* CMU610_COMPAT_STRING_H_ */
