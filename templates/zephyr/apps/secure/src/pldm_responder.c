/*
 * The secure hart's PLDM responder (pldm_responder.h). GetFirmwareParameters reports one
 * component per firmware partition of the board's flash (devicetree node cmu610_images, in flash
 * order: component identifiers 1, 2, ...), each with the version its image header gives
 * (cmu610_image.h), or none when the partition holds no image.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include <zephyr/app_version.h>
#include <zephyr/devicetree.h>
#include <zephyr/sys/byteorder.h>
#include <zephyr/sys/printk.h>
#include <zephyr/sys/util.h>

#include <libpldm/base.h>
#include <libpldm/edac.h>
#include <libpldm/firmware_update.h>

#include "cmu610_image.h"
#include "pldm_responder.h"

#define IMAGES     DT_NODELABEL(cmu610_images)
#define FLASH_BASE DT_REG_ADDR(DT_NODELABEL(flash0))
#define COMPONENT_FIRMWARE 0x000a /* DSP0267 ComponentClassification: firmware */

BUILD_ASSERT(DT_NODE_EXISTS(IMAGES), "no cmu610_images node in the devicetree: build for a board cmu610bsp generated");

struct image {
	const char *partition;
	uint32_t offset;
	uint32_t size;
};

#define IMAGE(node) {DT_PROP(node, partition), DT_PROP(node, offset), DT_PROP(node, size)},
static const struct image images[] = {DT_FOREACH_CHILD(IMAGES, IMAGE)};

/* A response: the MCTP type byte, the PLDM header, room for the largest payload sent. */
static uint8_t out[1 + sizeof(struct pldm_msg_hdr) + 512];
static struct pldm_component_parameter_entry_full comp;
static struct pldm_get_firmware_parameters_resp_full params;

static void ascii(struct pldm_firmware_string *s, const char *text)
{
	s->str_type = PLDM_STR_TYPE_ASCII;
	s->str_len = MIN(strlen(text), sizeof(s->str_data));
	memcpy(s->str_data, text, s->str_len);
}

static int firmware_parameters(uint8_t instance, struct pldm_msg *rsp, size_t *payload)
{
	size_t room = *payload;
	int rc;

	memset(&params, 0, sizeof(params));
	params.completion_code = PLDM_SUCCESS;
	params.comp_count = ARRAY_SIZE(images);
	ascii(&params.active_comp_image_set_ver_str, APP_VERSION_STRING); /* this, the running root of trust */
	params.pending_comp_image_set_ver_str.str_type = PLDM_STR_TYPE_UNKNOWN;
	rc = encode_get_firmware_parameters_resp(instance, &params, rsp, payload);
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(images); i++) {
		struct cmu610_image_version v;
		char text[16];
		size_t used = room - *payload;

		memset(&comp, 0, sizeof(comp));
		comp.comp_classification = COMPONENT_FIRMWARE;
		comp.comp_identifier = i + 1;
		comp.active_ver.str.str_type = PLDM_STR_TYPE_UNKNOWN;
		comp.pending_ver.str.str_type = PLDM_STR_TYPE_UNKNOWN;
		if (cmu610_image_version((const uint8_t *)(FLASH_BASE + images[i].offset), images[i].size, &v) == 0) {
			snprintf(text, sizeof(text), "%u.%u.%u", v.major, v.minor, v.revision);
			ascii(&comp.active_ver.str, text);
			comp.active_ver.comparison_stamp = ((uint32_t)v.major << 24) | ((uint32_t)v.minor << 16) | v.revision;
		}
		rc = encode_get_firmware_parameters_resp_comp_entry(&comp, rsp->payload + *payload, &used);
		*payload += used;
	}
	return rc;
}

/* GetPLDMVersion of the base type (DSP0240 1.1.0): one ver32 and its CRC-32, in one part */
static int base_version(uint8_t instance, struct pldm_msg *rsp, size_t *payload)
{
	static const uint8_t version[4] = {0x00, 0xf0, 0xf1, 0xf1}; /* alpha, update, minor, major */
	uint8_t *p = rsp->payload;
	int rc = encode_pldm_header_only(PLDM_RESPONSE, instance, PLDM_BASE, PLDM_GET_PLDM_VERSION, rsp);

	p[0] = PLDM_SUCCESS;
	sys_put_le32(0, &p[1]);       /* next transfer handle */
	p[5] = PLDM_START_AND_END;
	memcpy(&p[6], version, sizeof(version));
	sys_put_le32(pldm_edac_crc32(version, sizeof(version)), &p[10]);
	*payload = 14;
	return rc;
}

void pldm_responder_handle(uint8_t src, uint8_t tag, const uint8_t *msg, size_t len)
{
	const struct pldm_msg *rq = (const struct pldm_msg *)(msg + 1);
	struct pldm_msg *rsp = (struct pldm_msg *)(out + 1);
	size_t payload = sizeof(out) - 1 - sizeof(struct pldm_msg_hdr);
	struct pldm_header_info h;
	int rc;

	if (len < 1 + sizeof(struct pldm_msg_hdr) || (msg[0] & 0x7f) != CMU610_MCTP_TYPE_PLDM ||
	    unpack_pldm_header(&rq->hdr, &h) != PLDM_SUCCESS || h.msg_type != PLDM_REQUEST) {
		return;
	}
	out[0] = CMU610_MCTP_TYPE_PLDM;
	if (h.pldm_type == PLDM_BASE && h.command == PLDM_GET_TID) {
		struct pldm_base_get_tid_resp r = {.completion_code = PLDM_SUCCESS, .tid = PLDM_RESPONDER_TID};

		rc = encode_pldm_base_get_tid_resp(h.instance, &r, rsp, &payload);
	} else if (h.pldm_type == PLDM_BASE && h.command == PLDM_GET_PLDM_TYPES) {
		struct pldm_base_get_pldm_types_resp r = {.completion_code = PLDM_SUCCESS};

		r.pldm_types[0].byte = BIT(PLDM_BASE) | BIT(PLDM_FWUP);
		rc = encode_pldm_base_get_pldm_types_resp(h.instance, &r, rsp, &payload);
	} else if (h.pldm_type == PLDM_BASE && h.command == PLDM_GET_PLDM_VERSION) {
		rc = base_version(h.instance, rsp, &payload);
	} else if (h.pldm_type == PLDM_FWUP && h.command == PLDM_GET_FIRMWARE_PARAMETERS) {
		rc = firmware_parameters(h.instance, rsp, &payload);
	} else {
		rc = encode_cc_only_resp(h.instance, h.pldm_type, h.command, PLDM_ERROR_UNSUPPORTED_PLDM_CMD, rsp);
		payload = 1;
	}
	if (rc != 0) {
		printk("pldm: type %u command %u: encoding the response failed (%d)\n", h.pldm_type, h.command, rc);
		return;
	}
	cmu610_mctp_respond(src, tag, out, 1 + sizeof(struct pldm_msg_hdr) + payload);
}
