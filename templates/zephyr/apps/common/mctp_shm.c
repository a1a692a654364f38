/*
 * The shared-RAM MCTP binding (mctp_shm.h). The window's address and size, the peer's hart and
 * the CLINT come from the devicetree (cmu610_mctp, clint).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/arch/cpu.h>
#include <zephyr/devicetree.h>
#include <zephyr/irq.h>
#include <zephyr/kernel.h>

#include "mctp_shm.h"

#define MCTP_NODE DT_NODELABEL(cmu610_mctp)
#define SHM_BASE  DT_REG_ADDR(MCTP_NODE)
#define SHM_SIZE  DT_REG_SIZE(MCTP_NODE)
#define PEER_HART DT_PROP(MCTP_NODE, peer_hart)
#define MSIP(hart) ((volatile uint32_t *)(DT_REG_ADDR(DT_NODELABEL(clint)) + 4 * (hart)))
#define RISCV_IRQ_MSOFT 3

#define SHM_PKT   MCTP_PACKET_SIZE(MCTP_BTU) /* header + the baseline transmission unit */
#define SHM_SLOTS 8
#define SHM_MAGIC 0x4d435450u                /* "MCTP": the owner has set the window up */

struct shm_slot {
	uint32_t len;
	uint8_t data[SHM_PKT];
};

struct shm_ring {            /* written by one hart, read by the other */
	volatile uint32_t head;  /* producer: slots written */
	volatile uint32_t tail;  /* consumer: slots read */
	struct shm_slot slot[SHM_SLOTS];
};

struct shm_window {
	volatile uint32_t magic;
	uint32_t version;
	struct shm_ring ring[2]; /* ring[h]: packets to hart h */
};

BUILD_ASSERT(sizeof(struct shm_window) <= SHM_SIZE, "the MCTP window is too small for its rings");

struct shm_binding {
	struct mctp_binding binding;
	struct shm_window *win;
	uint32_t self;
	uint8_t tx_storage[MCTP_PKTBUF_SIZE(SHM_PKT)] PKTBUF_STORAGE_ALIGN;
	uint8_t rx_storage[MCTP_PKTBUF_SIZE(SHM_PKT)] PKTBUF_STORAGE_ALIGN;
};

static struct shm_binding shm;
static K_SEM_DEFINE(doorbell, 0, 1);

static void shm_isr(const void *arg)
{
	ARG_UNUSED(arg);
	*MSIP(arch_proc_id()) = 0; /* acknowledge */
	k_sem_give(&doorbell);
}

static int shm_tx(struct mctp_binding *b, struct mctp_pktbuf *pkt)
{
	struct shm_binding *s = CONTAINER_OF(b, struct shm_binding, binding);
	struct shm_ring *r = &s->win->ring[PEER_HART];
	size_t len = mctp_pktbuf_size(pkt);

	if (len > SHM_PKT) {
		return -EMSGSIZE;
	}
	/* a full ring: give the peer 10 ms, then let libmctp keep the packet for later (-EBUSY) */
	for (int i = 0; r->head - r->tail >= SHM_SLOTS; i++) {
		if (i == 1000) {
			return -EBUSY;
		}
		k_busy_wait(10);
	}
	struct shm_slot *slot = &r->slot[r->head % SHM_SLOTS];

	memcpy(slot->data, mctp_pktbuf_hdr(pkt), len);
	slot->len = len;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the slot before the index */
	r->head = r->head + 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*MSIP(PEER_HART) = 1;
	return 0;
}

int mctp_shm_poll(struct mctp_binding *binding)
{
	struct shm_binding *s = CONTAINER_OF(binding, struct shm_binding, binding);
	struct shm_ring *r = &s->win->ring[s->self];
	int n = 0;

	/* the other hart writes the indices: more than a ring's worth pending is not a ring any
	 * more (the secure hart must not spin on what the BMC hart wrote there): drop it all */
	if (r->head - r->tail > SHM_SLOTS) {
		r->tail = r->head;
		return 0;
	}
	for (; r->tail != r->head && n < SHM_SLOTS; n++) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		struct shm_slot *slot = &r->slot[r->tail % SHM_SLOTS];
		uint32_t len = slot->len;

		if (len < sizeof(struct mctp_hdr) || len > SHM_PKT) {
			r->tail = r->tail + 1; /* a bad length: drop it */
			continue;
		}
		struct mctp_pktbuf *pkt = mctp_pktbuf_init(&s->binding, s->rx_storage);

		memcpy(mctp_pktbuf_hdr(pkt), slot->data, len);
		pkt->end = pkt->start + len;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		r->tail = r->tail + 1; /* the slot is free again */
		mctp_bus_rx(&s->binding, pkt);
	}
	return n;
}

void mctp_shm_wait(uint32_t wait_ms)
{
	struct shm_ring *r = &shm.win->ring[shm.self];

	if (r->tail == r->head) {
		k_sem_take(&doorbell, K_MSEC(wait_ms));
	}
}

static int shm_start(struct mctp_binding *b)
{
	mctp_binding_set_tx_enabled(b, true);
	return 0;
}

struct mctp_binding *mctp_shm_init(bool owner, uint32_t wait_ms)
{
	struct shm_binding *s = &shm;

	s->win = (struct shm_window *)SHM_BASE;
	s->self = arch_proc_id();
	s->binding.name = "cmu610-shm";
	s->binding.version = 1;
	s->binding.pkt_size = SHM_PKT;
	s->binding.pkt_header = 0;
	s->binding.pkt_trailer = 0;
	s->binding.tx_storage = s->tx_storage;
	s->binding.tx = shm_tx;
	s->binding.start = shm_start;

	IRQ_CONNECT(RISCV_IRQ_MSOFT, 0, shm_isr, NULL, 0);
	*MSIP(s->self) = 0;
	irq_enable(RISCV_IRQ_MSOFT);

	if (owner) {
		memset((void *)s->win, 0, sizeof(*s->win));
		s->win->version = 1;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		s->win->magic = SHM_MAGIC;
		return &s->binding;
	}
	for (uint32_t waited = 0; s->win->magic != SHM_MAGIC; waited++) {
		if (waited >= wait_ms) {
			return NULL;
		}
		k_msleep(1);
	}
	return &s->binding;
}
