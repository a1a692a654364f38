/*
 * <endian.h> (glibc, picolibc) for Zephyr's minimal libc, which has none: libpldm's sources
 * (src/msgbuf/core.h and the DSP encoders) convert with htole16/le32toh/... . Zephyr's byte order
 * helpers do the work.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_COMPAT_ENDIAN_H_
#define CMU610_COMPAT_ENDIAN_H_

#include <zephyr/sys/byteorder.h>

#define htole16(x) sys_cpu_to_le16(x)
#define htole32(x) sys_cpu_to_le32(x)
#define htole64(x) sys_cpu_to_le64(x)
#define le16toh(x) sys_le16_to_cpu(x)
#define le32toh(x) sys_le32_to_cpu(x)
#define le64toh(x) sys_le64_to_cpu(x)
#define htobe16(x) sys_cpu_to_be16(x)
#define htobe32(x) sys_cpu_to_be32(x)
#define htobe64(x) sys_cpu_to_be64(x)
#define be16toh(x) sys_be16_to_cpu(x)
#define be32toh(x) sys_be32_to_cpu(x)
#define be64toh(x) sys_be64_to_cpu(x)

#endif /* CMU610_COMPAT_ENDIAN_H_ */
