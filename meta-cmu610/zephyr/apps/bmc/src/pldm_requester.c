/*
 * The BMC's PLDM requester (pldm_requester.h). Component names come from the devicetree
 * (cmu610_mctp's peer-components: the firmware partitions, in the order the secure hart numbers
 * them).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/shell/shell.h>
#include <zephyr/sys/util.h>

#include <libpldm/base.h>
#include <libpldm/firmware_update.h>

#include "cmu610_mctp.h"
#include "pldm_requester.h"
#include "sensors.h"

#define TIMEOUT_MS 1000
#define PEER       CMU610_MCTP_PEER

static const char *const components[] = DT_PROP_OR(CMU610_MCTP_NODE, peer_components, {});
static uint8_t request[1 + sizeof(struct pldm_msg_hdr) + 16];
static uint8_t reply[512];
static uint8_t instance;

/* Send the PLDM request built in `request` (payload bytes after the header); the response's
 * payload length, or -errno. */
static int transact(size_t payload)
{
	request[0] = CMU610_MCTP_TYPE_PLDM;
	int n = cmu610_mctp_request(PEER, request, 1 + sizeof(struct pldm_msg_hdr) + payload, reply, sizeof(reply),
				    TIMEOUT_MS);

	if (n < 0) {
		return n;
	}
	if ((size_t)n < 1 + sizeof(struct pldm_msg_hdr) + 1) {
		return -EPROTO;
	}
	return n - 1 - (int)sizeof(struct pldm_msg_hdr);
}

#define REQ ((struct pldm_msg *)(request + 1))
#define RSP ((const struct pldm_msg *)(reply + 1))

static void print_string(const struct shell *sh, const char *what, const struct variable_field *f)
{
	if (f->length == 0) {
		shell_print(sh, "%s (none)", what);
	} else {
		shell_print(sh, "%s %.*s", what, (int)f->length, (const char *)f->ptr);
	}
}

static int firmware(const struct shell *sh)
{
	struct pldm_get_firmware_parameters_resp r;
	struct variable_field active, pending, table;
	char what[64];
	int n;

	encode_get_firmware_parameters_req(instance++ & 0x1f, PLDM_GET_FIRMWARE_PARAMETERS_REQ_BYTES, REQ);
	n = transact(PLDM_GET_FIRMWARE_PARAMETERS_REQ_BYTES);
	if (n < 0 || decode_get_firmware_parameters_resp(RSP, n, &r, &active, &pending, &table) != 0 ||
	    r.completion_code != PLDM_SUCCESS) {
		shell_print(sh, "pldm: terminus %d: GetFirmwareParameters: no answer (%d)", PEER, n < 0 ? n : -EPROTO);
		return -EIO;
	}
	shell_print(sh, "pldm: terminus %d: firmware set %.*s, %u components", PEER, (int)active.length,
		    (const char *)active.ptr, r.comp_count);
	const uint8_t *p = table.ptr;
	size_t left = table.length;

	for (unsigned int i = 0; i < r.comp_count; i++) {
		struct pldm_component_parameter_entry e;
		struct variable_field av, pv;

		if (decode_get_firmware_parameters_resp_comp_entry(p, left, &e, &av, &pv) != 0) {
			shell_print(sh, "pldm: component %u: cannot be decoded", i + 1);
			return -EIO;
		}
		snprintk(what, sizeof(what), "pldm: component %u %s active", e.comp_identifier,
			 e.comp_identifier >= 1 && e.comp_identifier <= ARRAY_SIZE(components)
				 ? components[e.comp_identifier - 1] : "?");
		print_string(sh, what, &av);
		size_t used = sizeof(struct pldm_component_parameter_entry) + av.length + pv.length;

		p += used;
		left -= MIN(used, left);
	}
	return 0;
}

static int cmd_pldm(const struct shell *sh, size_t argc, char **argv)
{
	struct pldm_base_get_tid_resp tid;
	struct pldm_base_get_pldm_types_resp types;
	uint8_t cc, flag;
	uint32_t next;
	ver32_t version;
	char text[24];
	int n;

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	encode_get_tid_req(instance++ & 0x1f, REQ);
	n = transact(0);
	if (n < 0 || decode_pldm_base_get_tid_resp(RSP, n, &tid) != 0 || tid.completion_code != PLDM_SUCCESS) {
		shell_print(sh, "pldm: terminus %d: GetTID: no answer (%d)", PEER, n < 0 ? n : -EPROTO);
		return -EIO;
	}
	shell_print(sh, "pldm: terminus %d: TID %u", PEER, tid.tid);

	encode_get_types_req(instance++ & 0x1f, REQ);
	n = transact(0);
	if (n < 0 || decode_pldm_base_get_pldm_types_resp(RSP, n, &types) != 0 || types.completion_code != 0) {
		shell_print(sh, "pldm: terminus %d: GetPLDMTypes: no answer (%d)", PEER, n < 0 ? n : -EPROTO);
		return -EIO;
	}
	int len = snprintk(text, sizeof(text), "types");

	for (int t = 0; t < 64 && len < (int)sizeof(text) - 4; t++) {
		if (types.pldm_types[t / 8].byte & BIT(t % 8)) {
			len += snprintk(text + len, sizeof(text) - len, " %d", t);
		}
	}
	shell_print(sh, "pldm: terminus %d: %s", PEER, text);

	encode_get_version_req(instance++ & 0x1f, 0, PLDM_GET_FIRSTPART, PLDM_BASE, REQ);
	n = transact(PLDM_GET_VERSION_REQ_BYTES);
	if (n < 0 || decode_get_version_resp(RSP, n, &cc, &next, &flag, &version) != 0 || cc != PLDM_SUCCESS ||
	    pldm_base_ver2str(&version, text, sizeof(text)) < 0) {
		shell_print(sh, "pldm: terminus %d: GetPLDMVersion: no answer (%d)", PEER, n < 0 ? n : -EPROTO);
		return -EIO;
	}
	shell_print(sh, "pldm: terminus %d: base version %s", PEER, text);
	return firmware(sh);
}

SHELL_CMD_REGISTER(pldm, NULL, "Ask the secure hart over MCTP: TID, PLDM types and version, firmware parameters",
		   cmd_pldm);

void pldm_requester_serve(uint8_t src, uint8_t tag, const uint8_t *msg, size_t len)
{
	static uint8_t out[1 + sizeof(struct pldm_msg_hdr) + 32];

	if (len < 2 || (msg[0] & 0x7f) != CMU610_MCTP_TYPE_PLDM) {
		return;
	}
	int n = sensors_pldm_handle(msg + 1, len - 1, out + 1, sizeof(out) - 1);

	if (n > 0) {
		out[0] = CMU610_MCTP_TYPE_PLDM;
		cmu610_mctp_respond(src, tag, out, 1 + n);
	}
}
