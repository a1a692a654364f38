/*
 * The `inventory` shell command: the board's sensors and fans, one a line (name, bus, address,
 * kind), then a count line. The entries are the children of the devicetree node labelled
 * cmu610_inventory, which cmu610bsp generates from the board description.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stdbool.h>

#include <zephyr/devicetree.h>
#include <zephyr/shell/shell.h>
#include <zephyr/sys/util.h>

#define INVENTORY DT_NODELABEL(cmu610_inventory)

BUILD_ASSERT(DT_NODE_EXISTS(INVENTORY),
	     "no cmu610_inventory node in the devicetree: build for a board cmu610bsp generated");

struct item {
	const char *name;
	const char *bus;
	const char *address;
	const char *kind;
	bool fan;
};

#define ITEM(node)                                                                                 \
	{DT_PROP(node, item_name), DT_PROP(node, bus), DT_PROP(node, address), DT_PROP(node, kind), \
	 DT_PROP(node, fan)},

/* the last entry is a terminator, so a board without sensors and fans builds too */
static const struct item items[] = {DT_FOREACH_CHILD(INVENTORY, ITEM){NULL}};

static int cmd_inventory(const struct shell *sh, size_t argc, char **argv)
{
	unsigned int count = ARRAY_SIZE(items) - 1;
	unsigned int fans = 0;

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	for (unsigned int i = 0; i < count; i++) {
		shell_print(sh, "%-16s %-6s %-14s %s", items[i].name, items[i].bus, items[i].address,
			    items[i].kind);
		fans += items[i].fan ? 1 : 0;
	}
	shell_print(sh, "inventory: %u entries (%u sensors, %u fans)", count, count - fans, fans);
	return 0;
}

SHELL_CMD_REGISTER(inventory, NULL, "List the board's sensors and fans (name, bus, address, kind)",
		   cmd_inventory);
