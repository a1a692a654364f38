/*
 * BMC-domain firmware of a CMU610 board: the banner (with the product line it was built for),
 * the line's features, the devices the board gives its domain, the `inventory` shell command
 * (inventory.c); with the line's OpenBMC components, the board's sensors behind a PLDM Type 2
 * terminus (sensors.c, libpldm) and an MCTP endpoint (libmctp) to the secure hart, which it
 * asks over PLDM (pldm_requester.c). After a healthy boot (with MCTP: the secure hart's endpoint
 * answers), it confirms an A/B update's trial (cmu610_confirm.c). Board data comes from the
 * devicetree, the line's from its Kconfig fragment (<line>.conf).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <zephyr/sys/printk.h>

#include "cmu610_firmware.h"
#ifdef CONFIG_PLDM
#include "sensors.h"
#endif
#ifdef CONFIG_LIBMCTP
#include "cmu610_mctp.h"
#include "pldm_requester.h"
#endif
#ifdef CONFIG_CMU610_CONFIRM
#include "cmu610_confirm.h"
#endif

#define PEER_WAIT_MS 5000

/* A healthy boot confirms the A/B slot the boot stage started on trial, if one is. */
static void healthy(void)
{
#ifdef CONFIG_CMU610_CONFIRM
	const char *slot = "";
	int rc = cmu610_confirm(&slot);

	if (rc == 1) {
		printk("update: %s confirmed after a healthy boot\n", slot);
	} else if (rc < 0) {
		printk("update: %s not confirmed: the flash did not take the write (%d)\n", slot, rc);
	}
#endif
}

int main(void)
{
	cmu610_banner(CONFIG_CMU610_PRODUCT_LINE);
	printk("features: %s\n", CONFIG_CMU610_FEATURES[0] != '\0' ? CONFIG_CMU610_FEATURES : "(none)");
	cmu610_devices();
#ifdef CONFIG_PLDM
	sensors_init();
#endif
#ifdef CONFIG_LIBMCTP
	static const uint8_t types[] = {CMU610_MCTP_TYPE_PLDM};
	int rc = cmu610_mctp_start(pldm_requester_serve, types, sizeof(types), PEER_WAIT_MS);

	if (rc != 0) {
		printk("mctp: endpoint %d not started: the shared window was never marked ready (%d)\n",
		       CMU610_MCTP_EID, rc);
		return 0;
	}
	/* libmctp on the secure hart answers Get Endpoint ID itself (its control handler) */
	for (int tries = 0; tries < PEER_WAIT_MS / 1000; tries++) {
		rc = cmu610_mctp_get_endpoint_id(CMU610_MCTP_PEER, 1000);
		if (rc >= 0) {
			break;
		}
	}
	if (rc == CMU610_MCTP_PEER) {
		printk("mctp: endpoint %d up, peer endpoint %d answers\n", CMU610_MCTP_EID, rc);
		healthy();
	} else {
		printk("mctp: endpoint %d up, peer endpoint %d does not answer (%d)\n", CMU610_MCTP_EID,
		       CMU610_MCTP_PEER, rc);
	}
#else
	healthy();
#endif
	return 0;
}
