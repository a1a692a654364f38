/* The boot stage's console (console.c): the secure domain's UART. */
#ifndef CMU610_CONSOLE_H
#define CMU610_CONSOLE_H
#include <stdint.h>

void cmu610_putc(char c);
void cmu610_puts(const char *s);
void cmu610_puthex(uint32_t v);
void cmu610_putdec(uint32_t v);
#endif
