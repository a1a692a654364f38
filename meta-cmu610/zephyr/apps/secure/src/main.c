/*
 * Secure-domain firmware of a CMU610 board: says which board, domain and hart it is for and
 * which devices the board gives its domain, all from the devicetree. The same image serves
 * every product line.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#include <stddef.h>

#include "cmu610_firmware.h"

int main(void)
{
	cmu610_banner(NULL);
	cmu610_devices();
	return 0;
}
