/*
 * The banner of the CMU610 firmware applications, from the devicetree (see cmu610_firmware.h).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <zephyr/app_version.h>
#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>
#include <zephyr/sys/util.h>

#include "cmu610_firmware.h"

BUILD_ASSERT(DT_NODE_EXISTS(CMU610_FW),
	     "no cmu610_firmware node in the devicetree: build for a board cmu610bsp generated");

static const char *const devices[] = DT_PROP(CMU610_FW, devices);

void cmu610_banner(const char *line)
{
	uint32_t hart = arch_proc_id();

	printk("%s %s firmware %s: board %s, domain %s, hart %d%s%s\n", DT_PROP(CMU610_FW, soc),
	       DT_PROP(CMU610_FW, domain), APP_VERSION_STRING, DT_PROP(CMU610_FW, board),
	       DT_PROP(CMU610_FW, domain), DT_PROP(CMU610_FW, hart), line != NULL ? ", line " : "",
	       line != NULL ? line : "");
	if (hart != (uint32_t)DT_PROP(CMU610_FW, hart)) {
		printk("built for hart %d, runs on hart %u\n", DT_PROP(CMU610_FW, hart),
		       (unsigned int)hart);
	}
}

void cmu610_devices(void)
{
	printk("devices:");
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
		printk(" %s", devices[i]);
	}
	printk("\n");
}
