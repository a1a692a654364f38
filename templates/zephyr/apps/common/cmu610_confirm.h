/*
 * The BMC firmware's half of an A/B update: after a healthy boot, confirm the slot the boot
 * stage started on trial, so that the next reset keeps it instead of reverting to the other one.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef CMU610_CONFIRM_H_
#define CMU610_CONFIRM_H_

/*
 * Confirm the A/B slot on trial (devicetree node cmu610_ab_slots): 1 and *name set if one was
 * (its image_ok programmed), 0 if none was on trial, -EIO if the flash did not take the write.
 */
int cmu610_confirm(const char **name);

#endif /* CMU610_CONFIRM_H_ */
