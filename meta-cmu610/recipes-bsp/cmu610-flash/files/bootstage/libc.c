/*
 * The few C library functions the boot stage and libsodium's sources need (GCC also calls
 * memcpy/memset for aggregate copies), and libsodium's own helpers from its sodium/utils.c, which
 * needs an operating system to compile: the same loops, comparisons that take the same time
 * whatever the bytes. No cryptography here: SHA-256, SHA-512 and Ed25519 are libsodium's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d <= s || d >= s + n) return memcpy(dst, src, n);
    while (n--) d[n] = s[n];
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x < *y ? -1 : 1;
    return 0;
}

void abort(void)
{
    for (;;) __asm__ volatile("wfi");
}

/* libsodium's utils.c, without its operating-system parts. */
void sodium_memzero(void *const pnt, const size_t len);
int sodium_memcmp(const void *const b1, const void *const b2, size_t len);
int sodium_is_zero(const unsigned char *n, const size_t nlen);
void sodium_misuse(void);

void sodium_memzero(void *const pnt, const size_t len)
{
    volatile unsigned char *p = pnt;
    for (size_t i = 0; i < len; i++) p[i] = 0;
}

int sodium_memcmp(const void *const b1, const void *const b2, size_t len)
{
    const volatile unsigned char *x = b1, *y = b2;
    volatile unsigned char d = 0;
    for (size_t i = 0; i < len; i++) d |= x[i] ^ y[i];
    return (1 & ((d - 1) >> 8)) - 1;
}

int sodium_is_zero(const unsigned char *n, const size_t nlen)
{
    volatile unsigned char d = 0;
    for (size_t i = 0; i < nlen; i++) d |= n[i];
    return 1 & ((d - 1) >> 8);
}

void sodium_misuse(void)
{
    abort();
}
