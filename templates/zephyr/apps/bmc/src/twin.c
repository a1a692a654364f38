/*
 * The QEMU twin's backdoor (sensors.h: twin_set): each emulated sensor's reading moved through
 * what its emulator offers, chosen by the devicetree's twin-backdoor (the binding's enum order):
 *   0 sensor-backend    Zephyr's emulator sensor backend API (fintek,f75303 and the like)
 *   1 ina230-registers  the INA230 emulator's registers (Zephyr's test tree), from its current LSB
 *   2 adc-divider       the emulated ADC's pin voltage behind a voltage-divider
 * Compiled on the twin only (CONFIG_EMUL): the chip's firmware has no backdoor.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>

#include <zephyr/drivers/sensor.h>

#ifdef CONFIG_EMUL
#include <zephyr/drivers/emul_sensor.h>
#endif
#ifdef CONFIG_ADC_EMUL
#include <zephyr/drivers/adc/adc_emul.h>
#endif
#ifdef CMU610_INA230_EMUL
#include <ina230.h>
#include <ina230_emul.h>
#endif

#include <libpldm/platform.h>

#include "sensors.h"

#define SENSOR_BACKEND   0
#define INA230_REGISTERS 1
#define ADC_DIVIDER      2

int twin_set(const struct sensor_entry *e, uint8_t base_unit, int32_t milli)
{
	switch (e->backdoor) {
#ifdef CONFIG_EMUL
	case SENSOR_BACKEND: {
		/* a q31 of the value in units with shift 8: value * 2^31 / 2^8 */
		q31_t q = (q31_t)(((int64_t)milli << 23) / 1000);
		struct sensor_chan_spec ch = {SENSOR_CHAN_AMBIENT_TEMP, 0};

		return emul_sensor_backend_set_channel(e->emul, ch, &q, 8);
	}
#endif
#ifdef CMU610_INA230_EMUL
	case INA230_REGISTERS: {
		/* current = register x LSB; power = register x 25 LSB (watts from microamps x volts) */
		int64_t micro = (int64_t)milli * 1000;

		if (e->lsb_ua == 0) {
			return -EINVAL;
		}
		if (base_unit == PLDM_SENSOR_UNIT_WATTS) {
			return ina230_mock_set_register(e->emul->data, INA230_REG_POWER,
							(uint32_t)(micro / (25 * (int64_t)e->lsb_ua)));
		}
		return ina230_mock_set_register(e->emul->data, INA230_REG_CURRENT,
						(uint16_t)(int16_t)(micro / e->lsb_ua));
	}
#endif
#ifdef CONFIG_ADC_EMUL
	case ADC_DIVIDER:
		if (e->adc == NULL || e->full_ohms == 0 || milli < 0) {
			return -EINVAL;
		}
		/* the pin sees the rail through the divider: output / full of it, in millivolts */
		return adc_emul_const_value_set(e->adc, e->adc_channel,
						(uint32_t)(((int64_t)milli * e->output_ohms + e->full_ohms / 2) / e->full_ohms));
#endif
	default:
		ARG_UNUSED(base_unit);
		ARG_UNUSED(milli);
		return -ENOTSUP;
	}
}
