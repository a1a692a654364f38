/* The boot stage's console: the secure domain's UART (ns16550), polled. */
#include "cmu610_boot_config.h"
#include "console.h"

void cmu610_putc(char c)
{
    volatile uint8_t *uart = (volatile uint8_t *)CMU610_UART_BASE;
    while (!(uart[5] & 0x20)) { }
    uart[0] = (uint8_t)c;
}

void cmu610_puts(const char *s) { while (*s) cmu610_putc(*s++); }

void cmu610_puthex(uint32_t v)
{
    cmu610_puts("0x");
    for (int i = 28; i >= 0; i -= 4) cmu610_putc("0123456789abcdef"[(v >> i) & 15]);
}

void cmu610_putdec(uint32_t v)
{
    char buf[11], *p = buf + sizeof(buf) - 1;
    *p = 0;
    do *--p = (char)('0' + v % 10); while (v /= 10);
    cmu610_puts(p);
}
