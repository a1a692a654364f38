/* The boot stage has no C library: what libsodium's sources include, served by libc.c. */
#ifndef CMU610_STDLIB_H
#define CMU610_STDLIB_H
#include <stddef.h>
void abort(void) __attribute__((noreturn));
#endif
