/*
 * Zephyr's minimal libc defines INTMAX_MAX but not INTMAX_MIN, which libpldm's msgbuf asserts on.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_COMPAT_STDINT_H_
#define CMU610_COMPAT_STDINT_H_

#include_next <stdint.h>

#ifndef INTMAX_MIN
#define INTMAX_MIN (-INTMAX_MAX - 1)
#endif

#endif /* CMU610_COMPAT_STDINT_H_ */
