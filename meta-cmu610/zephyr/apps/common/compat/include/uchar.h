/*
 * C11's <uchar.h> for Zephyr's minimal libc, which has none (libpldm uses char16_t).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_COMPAT_UCHAR_H_
#define CMU610_COMPAT_UCHAR_H_

#include <stdint.h>

typedef uint_least16_t char16_t;
typedef uint_least32_t char32_t;

#endif /* CMU610_COMPAT_UCHAR_H_ */
