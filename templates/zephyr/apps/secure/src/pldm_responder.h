/*
 * The secure hart's PLDM responder (DSP0240 base: GetTID, GetPLDMTypes, GetPLDMVersion; DSP0267
 * firmware update: GetFirmwareParameters), encoded with libpldm.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLDM_RESPONDER_H_
#define PLDM_RESPONDER_H_

#include <stddef.h>
#include <stdint.h>

#include "cmu610_mctp.h"

#define PLDM_RESPONDER_TID DT_PROP(CMU610_MCTP_NODE, pldm_tid)

/* An MCTP request (type byte first): answers PLDM requests, ignores the rest. */
void pldm_responder_handle(uint8_t src, uint8_t tag, const uint8_t *msg, size_t len);

#endif /* PLDM_RESPONDER_H_ */
