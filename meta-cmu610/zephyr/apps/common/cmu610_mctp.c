/*
 * This hart's MCTP endpoint (cmu610_mctp.h): libmctp's platform glue (its custom allocator over a
 * k_heap, its clock), the endpoint's thread, requests and responses.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/util.h>

#include <libmctp.h>
#include <libmctp-cmds.h>

#include "cmu610_mctp.h"
#include "mctp_shm.h"

#define HEAP_SIZE 8192
#define POLL_MS   50

/* libmctp's custom_alloc: the application provides these four */
K_HEAP_DEFINE(mctp_heap, HEAP_SIZE);

void *mctp_custom_malloc(size_t size)
{
	return k_heap_alloc(&mctp_heap, size, K_NO_WAIT);
}

void mctp_custom_free(void *ptr)
{
	k_heap_free(&mctp_heap, ptr);
}

void *mctp_custom_msg_alloc(size_t size, void *ctx)
{
	ARG_UNUSED(ctx);
	return k_heap_alloc(&mctp_heap, size, K_NO_WAIT);
}

void mctp_custom_msg_free(void *msg, void *ctx)
{
	ARG_UNUSED(ctx);
	k_heap_free(&mctp_heap, msg);
}

static uint64_t now_ms(void *ctx)
{
	ARG_UNUSED(ctx);
	return (uint64_t)k_uptime_get();
}

static struct mctp *mctp;
static struct mctp_binding *bus;
static cmu610_mctp_handler handler;
static K_MUTEX_DEFINE(lock);      /* every call into libmctp */
static K_MUTEX_DEFINE(requests);  /* one request in flight */
static K_SEM_DEFINE(answered, 0, 1);

/* the request in flight: who must answer, with which tag, and where its answer goes */
static struct {
	uint8_t eid;
	uint8_t tag;
	bool waiting;
	uint8_t *reply;
	size_t cap;
	int len;
} pending;

static void rx(uint8_t src, bool tag_owner, uint8_t tag, void *data, void *msg, size_t len)
{
	ARG_UNUSED(data);
	if (tag_owner) {
		if (handler != NULL && len > 0) {
			handler(src, tag, msg, len);
		}
		return;
	}
	if (pending.waiting && src == pending.eid && tag == pending.tag) {
		pending.len = len <= pending.cap ? (int)len : -EMSGSIZE;
		if (pending.len > 0) {
			memcpy(pending.reply, msg, len);
		}
		pending.waiting = false;
		k_sem_give(&answered);
	}
}

static void endpoint_thread(void *a, void *b, void *c)
{
	ARG_UNUSED(a);
	ARG_UNUSED(b);
	ARG_UNUSED(c);
	for (;;) {
		mctp_shm_wait(POLL_MS);
		k_mutex_lock(&lock, K_FOREVER);
		mctp_shm_poll(bus);
		k_mutex_unlock(&lock);
	}
}

K_THREAD_STACK_DEFINE(endpoint_stack, 3072);
static struct k_thread endpoint;

int cmu610_mctp_start(cmu610_mctp_handler h, const uint8_t *types, size_t ntypes, uint32_t wait_ms)
{
	bus = mctp_shm_init(DT_PROP(CMU610_MCTP_NODE, owner), wait_ms);
	if (bus == NULL) {
		return -ETIMEDOUT;
	}
	handler = h;
	mctp = mctp_init();
	if (mctp == NULL) {
		return -ENOMEM;
	}
	mctp_set_now_op(mctp, now_ms, NULL);
	for (size_t i = 0; i < ntypes; i++) {
		mctp_control_add_type(mctp, types[i]);
	}
	mctp_set_rx_all(mctp, rx, NULL);
	int rc = mctp_register_bus(mctp, bus, CMU610_MCTP_EID);

	if (rc != 0) {
		return rc;
	}
	k_thread_create(&endpoint, endpoint_stack, K_THREAD_STACK_SIZEOF(endpoint_stack), endpoint_thread,
			NULL, NULL, NULL, K_PRIO_PREEMPT(4), 0, K_NO_WAIT);
	k_thread_name_set(&endpoint, "mctp");
	return 0;
}

int cmu610_mctp_request(uint8_t eid, const void *msg, size_t len, void *reply, size_t cap, uint32_t timeout_ms)
{
	uint8_t *copy = mctp_custom_msg_alloc(len, NULL);
	uint8_t tag;
	int rc;

	if (mctp == NULL) {
		return -ENODEV;
	}
	if (copy == NULL) {
		return -ENOMEM;
	}
	memcpy(copy, msg, len);
	k_mutex_lock(&requests, K_FOREVER);
	k_sem_reset(&answered);
	k_mutex_lock(&lock, K_FOREVER);
	pending.eid = eid;
	pending.reply = reply;
	pending.cap = cap;
	pending.waiting = true;
	rc = mctp_message_tx_request(mctp, eid, copy, len, &tag); /* libmctp frees copy */
	pending.tag = tag;
	k_mutex_unlock(&lock);
	if (rc == 0) {
		rc = k_sem_take(&answered, K_MSEC(timeout_ms)) == 0 ? pending.len : -ETIMEDOUT;
	}
	k_mutex_lock(&lock, K_FOREVER);
	pending.waiting = false;
	k_mutex_unlock(&lock);
	k_mutex_unlock(&requests);
	return rc;
}

int cmu610_mctp_respond(uint8_t eid, uint8_t tag, const void *msg, size_t len)
{
	k_mutex_lock(&lock, K_FOREVER);
	int rc = mctp_message_tx(mctp, eid, false, tag, msg, len);

	k_mutex_unlock(&lock);
	return rc;
}

int cmu610_mctp_get_endpoint_id(uint8_t eid, uint32_t timeout_ms)
{
	static uint8_t instance;
	struct mctp_ctrl_msg_hdr req = {
		.ic_msg_type = MCTP_CTRL_HDR_MSG_TYPE,
		.rq_dgram_inst = MCTP_CTRL_HDR_FLAG_REQUEST | (instance++ & MCTP_CTRL_HDR_INSTANCE_ID_MASK),
		.command_code = MCTP_CTRL_CMD_GET_ENDPOINT_ID,
	};
	struct mctp_ctrl_cmd_get_endpoint_id_resp resp;
	int n = cmu610_mctp_request(eid, &req, sizeof(req), &resp, sizeof(resp), timeout_ms);

	if (n < 0) {
		return n;
	}
	if ((size_t)n < sizeof(resp) || resp.completion_code != 0) {
		return -EPROTO;
	}
	return resp.endpoint_id;
}
