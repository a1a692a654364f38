/*
 * This hart's MCTP endpoint: libmctp (OpenBMC's, compiled from its recipe's source) over the
 * shared-RAM binding (mctp_shm.h), EIDs from the devicetree (cmu610_mctp). libmctp itself
 * answers the MCTP control commands it handles (Get Endpoint ID, Get MCTP Version Support, Get
 * Message Type Support); requests of other message types go to the application's handler.
 *
 * libmctp is single-threaded: every call into it is made under one lock, from the endpoint's
 * thread (which drains the ring) or from a caller of cmu610_mctp_request.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_MCTP_H_
#define CMU610_MCTP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zephyr/devicetree.h>

#define CMU610_MCTP_NODE DT_NODELABEL(cmu610_mctp)
#define CMU610_MCTP_EID  DT_PROP(CMU610_MCTP_NODE, eid)
#define CMU610_MCTP_PEER DT_PROP(CMU610_MCTP_NODE, peer_eid)
#define CMU610_MCTP_TYPE_CONTROL 0x00
#define CMU610_MCTP_TYPE_PLDM    0x01

/*
 * A request of another endpoint (message type byte first); runs on the endpoint's thread, which
 * may answer with cmu610_mctp_respond.
 */
typedef void (*cmu610_mctp_handler)(uint8_t src, uint8_t tag, const uint8_t *msg, size_t len);

/*
 * Start this hart's endpoint: set up (or wait up to wait_ms for) the window, register the bus
 * with libmctp, advertise `types` (message types beside control), start the thread. 0 or -errno.
 */
int cmu610_mctp_start(cmu610_mctp_handler handler, const uint8_t *types, size_t ntypes, uint32_t wait_ms);

/*
 * Send a request (message type byte first) to `eid` and wait up to timeout_ms for its response,
 * copied into `reply`: the response's length, -ETIMEDOUT without one, or another -errno.
 */
int cmu610_mctp_request(uint8_t eid, const void *msg, size_t len, void *reply, size_t cap, uint32_t timeout_ms);

/* Answer a request `tag` of `eid` (from the handler). 0 or -errno. */
int cmu610_mctp_respond(uint8_t eid, uint8_t tag, const void *msg, size_t len);

/* libmctp's own control answer to Get Endpoint ID from `eid`: its EID, or -errno. */
int cmu610_mctp_get_endpoint_id(uint8_t eid, uint32_t timeout_ms);

#endif /* CMU610_MCTP_H_ */
