/*
 * BMC-domain firmware of a CMU610 board: the banner (with the product line it was built for),
 * the line's features, the devices the board gives its domain, and the `inventory` shell
 * command (inventory.c). Board data comes from the devicetree, the line's from its Kconfig
 * fragment (<line>.conf).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <zephyr/sys/printk.h>

#include "cmu610_firmware.h"

int main(void)
{
	cmu610_banner(CONFIG_CMU610_PRODUCT_LINE);
	printk("features: %s\n", CONFIG_CMU610_FEATURES[0] != '\0' ? CONFIG_CMU610_FEATURES : "(none)");
	cmu610_devices();
	return 0;
}
