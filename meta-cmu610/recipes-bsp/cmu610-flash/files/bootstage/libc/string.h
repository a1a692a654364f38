/* The boot stage has no C library: what libsodium's sources include, served by libc.c. */
#ifndef CMU610_STRING_H
#define CMU610_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
