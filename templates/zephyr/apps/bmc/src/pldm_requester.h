/*
 * The BMC hart asks the secure hart (root of trust) over MCTP, with libpldm: its TID, PLDM types
 * and base version (DSP0240) and its firmware parameters (DSP0267 GetFirmwareParameters: the
 * versions of the images the flash holds). Shell command `pldm`.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PLDM_REQUESTER_H_
#define PLDM_REQUESTER_H_

#include <stddef.h>
#include <stdint.h>

/* MCTP requests of the peer (type byte first): PLDM Type 2 ones are answered from sensors.c. */
void pldm_requester_serve(uint8_t src, uint8_t tag, const uint8_t *msg, size_t len);

#endif /* PLDM_REQUESTER_H_ */
