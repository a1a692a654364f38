/*
 * An MCTP binding of the layer's own between the CMU610's two harts: a RAM window both reach
 * (devicetree node cmu610_mctp, outside both domains' memory) holding two single-producer,
 * single-consumer rings of whole MCTP packets, one per direction. The sender raises the peer
 * hart's CLINT machine software interrupt (msip) as a doorbell; the receiver also polls, so a
 * lost interrupt costs latency, never a packet. libmctp sees a binding like its serial or
 * astlpc ones (struct mctp_binding: tx, start).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_MCTP_SHM_H_
#define CMU610_MCTP_SHM_H_

#include <stdbool.h>
#include <stdint.h>

#include <libmctp.h>

/*
 * This hart's side of the window. The owner (the secure domain) clears the window and marks it
 * ready; the other side waits for the mark up to wait_ms. NULL if it never came.
 */
struct mctp_binding *mctp_shm_init(bool owner, uint32_t wait_ms);

/* Hand every packet waiting in this hart's ring to libmctp (mctp_bus_rx); how many there were. */
int mctp_shm_poll(struct mctp_binding *binding);

/* Sleep until the peer rang this hart's doorbell, or wait_ms passed. */
void mctp_shm_wait(uint32_t wait_ms);

#endif /* CMU610_MCTP_SHM_H_ */
