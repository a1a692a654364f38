/*
 * Bare-metal two-hart test firmware for `cmu610bsp qemu` on QEMU's riscv32 virt machine.
 * hart 0: banner, then a line-based console (ping, status, panic, hang, poweroff).
 * hart 1: waits for hart 0's banner, prints its own, then sleeps.
 * Build-time modes: -DNO_CPU1_MARKER (hart 1 stays silent), -DFATAL_AT_BOOT (prints a panic),
 * -DAMP_IMAGE (one domain's image started by the flash boot stage: see the end of this file), with
 * -DIMAGE_TAG='"v2"' (hart 1 names its image) and -DCONFIRM (hart 1 confirms its A/B slot's trial
 * through the boot stage's confirm.c, built with its generated cmu610_boot_config.h), with
 * -DUPDATE_OPS=<address> (hart 1 then applies the update operations found there: update_agent.c).
 * Idle harts wait with wfi: hart 0 wakes on the UART receive interrupt through the PLIC.
 */
#include <stdint.h>

#define UART      0x10000000u
#define PLIC      0x0c000000u
#define FINISHER  0x00100000u
#define CLINT     0x02000000u
#define UART_IRQ  10

static volatile uint8_t *const uart = (volatile uint8_t *)UART;
static volatile int cpu0_ready, cpu1_done;

static void putc_(char c) { while (!(uart[5] & 0x20)) { } uart[0] = (uint8_t)c; }
static void puts_(const char *s) { while (*s) putc_(*s++); }

static int streq(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

static void uart_irq_setup(void)
{
    uart[1] = 0x01;                                        /* IER: receive data available */
    *(volatile uint32_t *)(PLIC + 4 * UART_IRQ) = 1;       /* source priority */
    *(volatile uint32_t *)(PLIC + 0x2000) = 1u << UART_IRQ; /* enable for hart 0 M-mode context */
    *(volatile uint32_t *)(PLIC + 0x200000) = 0;           /* threshold */
    __asm__ volatile("csrs mie, %0" :: "r"(1u << 11));      /* MEIE: wfi wakes, no trap (MIE=0) */
}

static char getc_(void)
{
    while (!(uart[5] & 0x01)) {
        __asm__ volatile("wfi");
        uint32_t id = *(volatile uint32_t *)(PLIC + 0x200004); /* claim */
        if (id) *(volatile uint32_t *)(PLIC + 0x200004) = id; /* complete */
    }
    return (char)uart[0];
}

static void hang(void) { for (;;) __asm__ volatile("wfi"); }

static void console(void)
{
    char line[64];
    for (;;) {
        unsigned n = 0;
        puts_("fw> ");
        for (;;) {
            char c = getc_();
            if (c == '\r' || c == '\n') break;
            if (n < sizeof line - 1) line[n++] = c;
        }
        line[n] = 0;
        puts_("\r\n");
        if (streq(line, "ping")) puts_("pong\r\n");
        else if (streq(line, "status")) puts_("status: cpu0 up, cpu1 up\r\n");
        else if (streq(line, "panic")) puts_("FATAL ERROR: test panic requested\r\n");
        else if (streq(line, "hang")) hang();
        else if (streq(line, "poweroff")) *(volatile uint32_t *)FINISHER = 0x5555;
        else if (n) puts_("unknown command\r\n");
    }
}

#ifdef AMP_IMAGE
#ifdef CONFIRM
#include "cmu610_boot_config.h"
#include "slots.h"
static const struct cmu610_domain bmc = {"bmc", CMU610_BMC_RAM_BASE, CMU610_BMC_RAM_SIZE, CMU610_BMC_NSLOTS,
                                         {CMU610_BMC_SLOTS}};
#endif
#ifdef UPDATE_OPS
int cmu610_update_agent(void);
static const char *const update_result[] = {"", "cpu1: update applied\r\n", "cpu1: update refused: a malformed operation list\r\n",
                                            "cpu1: update failed: the flash reported an error\r\n"};
#endif
/* Each hart runs its own copy, in its own domain's RAM, so they share no variable: hart 0 reports,
 * then raises hart 1's software interrupt; hart 1 waits for it, reports and powers the twin off. */
void fw_main(uint32_t hart)
{
    if (hart == 0) {
        puts_("cpu0: boot ok\r\n");
        *(volatile uint32_t *)(CLINT + 4) = 1;
    } else {
        uint32_t mip = 0;
        __asm__ volatile("csrs mie, %0" :: "r"(1u << 3));
        while (!(mip & (1u << 3))) {
            __asm__ volatile("wfi");
            __asm__ volatile("csrr %0, mip" : "=r"(mip));
        }
        puts_("cpu1: boot ok\r\n");
#ifdef IMAGE_TAG
        puts_("cpu1: image " IMAGE_TAG "\r\n");
#endif
#ifdef CONFIRM
        puts_(cmu610_confirm(&bmc) ? "cpu1: confirmed\r\n" : "cpu1: nothing to confirm\r\n");
#endif
#ifdef UPDATE_OPS
        puts_(update_result[cmu610_update_agent()]);
#endif
        *(volatile uint32_t *)FINISHER = 0x5555;
    }
    hang();
}
#else
void fw_main(uint32_t hart)
{
    if (hart == 0) {
        puts_("cpu0: boot ok\r\n");
#ifdef FATAL_AT_BOOT
        puts_("Kernel panic - not syncing: test\r\n");
#endif
        cpu0_ready = 1;
        for (unsigned i = 0; i < 5000000 && !cpu1_done; i++) { } /* let hart 1 finish its line */
        uart_irq_setup();
        console();
    } else if (hart == 1) {
        while (!cpu0_ready) { }
#ifndef NO_CPU1_MARKER
        puts_("cpu1: boot ok\r\n");
#endif
        cpu1_done = 1;
    }
    hang();
}
#endif
