/*
 * What both CMU610 firmware applications print about themselves. Everything comes from the
 * devicetree node labelled cmu610_firmware, which cmu610bsp generates into every board's tree:
 * no board data in C.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CMU610_FIRMWARE_H_
#define CMU610_FIRMWARE_H_

#include <zephyr/devicetree.h>

#define CMU610_FW DT_NODELABEL(cmu610_firmware)

/*
 * "<soc> <domain> firmware <version>: board <board>, domain <domain>, hart <hart>[, line <line>]",
 * and a second line if the image runs on another hart than its tree says.
 */
void cmu610_banner(const char *line);

/* "devices: <each peripheral the board description gives this domain>" */
void cmu610_devices(void);

#endif /* CMU610_FIRMWARE_H_ */
