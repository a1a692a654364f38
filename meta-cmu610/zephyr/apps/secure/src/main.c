/*
 * Secure-domain firmware of a CMU610 board: says which board, domain and hart it is for and
 * which devices the board gives its domain, all from the devicetree; then it is an MCTP endpoint
 * (libmctp) on the window it shares with the BMC hart and answers PLDM (libpldm): base discovery
 * and firmware update's GetFirmwareParameters with the versions of the images the flash holds
 * (pldm_responder.c). The same image serves every product line.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stddef.h>

#include <zephyr/sys/printk.h>

#include "cmu610_firmware.h"
#include "cmu610_mctp.h"
#include "pldm_responder.h"

int main(void)
{
	static const uint8_t types[] = {CMU610_MCTP_TYPE_PLDM};

	cmu610_banner(NULL);
	cmu610_devices();
	int rc = cmu610_mctp_start(pldm_responder_handle, types, sizeof(types), 0);

	if (rc != 0) {
		printk("mctp: endpoint %d failed to start (%d)\n", CMU610_MCTP_EID, rc);
		return 0;
	}
	printk("mctp: endpoint %d ready, pldm terminus %d\n", CMU610_MCTP_EID, PLDM_RESPONDER_TID);
	return 0;
}
