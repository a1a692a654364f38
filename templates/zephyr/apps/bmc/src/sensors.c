/*
 * The BMC's sensors and PLDM Type 2 terminus (sensors.h). No sensor fact is written here: names,
 * PDRs and devices come from the devicetree, units and thresholds from the PDRs (decoded with
 * libpldm).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zephyr/devicetree.h>
#include <zephyr/drivers/sensor.h>
#include <zephyr/shell/shell.h>
#include <zephyr/sys/byteorder.h>
#include <zephyr/sys/printk.h>
#include <zephyr/sys/util.h>

#include <libpldm/base.h>
#include <libpldm/pdr.h>
#include <libpldm/platform.h>

#include "sensors.h"

#define SENSORS DT_NODELABEL(cmu610_sensors)
BUILD_ASSERT(DT_NODE_EXISTS(SENSORS), "no cmu610_sensors node in the devicetree: build for a board cmu610bsp generated");

#define DEVICE_OF(node) DT_PHANDLE(node, device)
#define HAS_DEVICE(node) DT_NODE_HAS_PROP(node, device)

#define PDR_BYTES(node) static const uint8_t DT_CAT(pdr_, node)[] = DT_PROP(node, pdr);
DT_FOREACH_CHILD(SENSORS, PDR_BYTES)

#ifdef CONFIG_EMUL
#define TWIN_OF(node, dev)                                                                          \
	.backdoor = DT_ENUM_IDX(node, twin_backdoor),                                               \
	.emul = COND_CODE_1(DT_PROP(node, twin_emulator), (EMUL_DT_GET(dev)), (NULL)),              \
	.lsb_ua = DT_PROP_OR(dev, current_lsb_microamps, 0),                                        \
	.adc = COND_CODE_1(DT_NODE_HAS_PROP(dev, io_channels),                                      \
			   (DEVICE_DT_GET(DT_IO_CHANNELS_CTLR(dev))), (NULL)),                      \
	.adc_channel = COND_CODE_1(DT_NODE_HAS_PROP(dev, io_channels), (DT_IO_CHANNELS_INPUT(dev)), (0)), \
	.output_ohms = DT_PROP_OR(dev, output_ohms, 0), .full_ohms = DT_PROP_OR(dev, full_ohms, 0),
#define TWIN_FIELDS(node) COND_CODE_1(HAS_DEVICE(node), (TWIN_OF(node, DEVICE_OF(node))), (.backdoor = -1,))
#else
#define TWIN_FIELDS(node) .backdoor = -1,
#endif

#define ENTRY(node)                                                                                 \
	{.name = DT_PROP(node, sensor_name),                                                        \
	 .pdr = DT_CAT(pdr_, node),                                                                 \
	 .pdr_len = sizeof(DT_CAT(pdr_, node)),                                                     \
	 .dev = COND_CODE_1(HAS_DEVICE(node), (DEVICE_DT_GET(DEVICE_OF(node))), (NULL)),            \
	 TWIN_FIELDS(node)},

static const struct sensor_entry entries[] = {DT_FOREACH_CHILD(SENSORS, ENTRY)};

static pldm_pdr *repo;
static uint8_t instance;

const struct sensor_entry *sensors_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		if (strcmp(entries[i].name, name) == 0) {
			return &entries[i];
		}
	}
	return NULL;
}

/* The sensor with this ID and its PDR, from the repository. */
static const struct sensor_entry *by_id(uint16_t id, struct pldm_numeric_sensor_value_pdr *pdr)
{
	uint8_t *data = NULL;
	uint32_t size, next;

	for (uint32_t handle = 0; pldm_pdr_find_record(repo, handle, &data, &size, &next) != NULL; handle = next) {
		if (decode_numeric_sensor_pdr_data(data, size, pdr) == PLDM_SUCCESS && pdr->sensor_id == id &&
		    id >= 1 && id <= ARRAY_SIZE(entries)) {
			return &entries[id - 1];
		}
		if (next == 0) {
			break;
		}
	}
	return NULL;
}

static enum sensor_channel channel_of(uint8_t base_unit)
{
	switch (base_unit) {
	case PLDM_SENSOR_UNIT_DEGRESS_C:
		return SENSOR_CHAN_AMBIENT_TEMP;
	case PLDM_SENSOR_UNIT_VOLTS:
		return SENSOR_CHAN_VOLTAGE;
	case PLDM_SENSOR_UNIT_AMPS:
		return SENSOR_CHAN_CURRENT;
	default:
		return SENSOR_CHAN_POWER;
	}
}

/* The reading in the PDR's units (readings are thousandths of the base unit: unitModifier -3). */
static int read_raw(const struct sensor_entry *e, const struct pldm_numeric_sensor_value_pdr *pdr, int32_t *raw)
{
	struct sensor_value v;
	int64_t milli;
	int rc;

	if (e->dev == NULL || !device_is_ready(e->dev)) {
		return -ENODEV;
	}
	rc = sensor_sample_fetch(e->dev);
	rc = rc ? rc : sensor_channel_get(e->dev, channel_of(pdr->base_unit), &v);
	if (rc) {
		return rc;
	}
	milli = sensor_value_to_milli(&v);
	for (int m = pdr->unit_modifier; m < -3; m++) {
		milli *= 10;
	}
	for (int m = pdr->unit_modifier; m > -3; m--) {
		milli /= 10;
	}
	*raw = (int32_t)milli;
	return 0;
}

static uint8_t state_of(const struct pldm_numeric_sensor_value_pdr *p, int32_t raw)
{
	uint8_t s = p->supported_thresholds.byte;

	if ((s & BIT(1)) && raw >= p->critical_high.value_s32) {
		return PLDM_SENSOR_UPPERCRITICAL;
	}
	if ((s & BIT(4)) && raw <= p->critical_low.value_s32) {
		return PLDM_SENSOR_LOWERCRITICAL;
	}
	if ((s & BIT(0)) && raw >= p->warning_high.value_s32) {
		return PLDM_SENSOR_UPPERWARNING;
	}
	if ((s & BIT(3)) && raw <= p->warning_low.value_s32) {
		return PLDM_SENSOR_LOWERWARNING;
	}
	return PLDM_SENSOR_NORMAL;
}

/* GetSensorReading (DSP0248), answered from the sensor API. */
static int get_sensor_reading(const struct pldm_msg *rq, size_t len, struct pldm_msg *rsp, uint8_t inst)
{
	struct pldm_numeric_sensor_value_pdr pdr;
	uint16_t id;
	bool8_t rearm;
	int32_t raw = 0;
	uint8_t op = PLDM_SENSOR_ENABLED, state;

	if (decode_get_sensor_reading_req(rq, len, &id, &rearm) != PLDM_SUCCESS) {
		return encode_cc_only_resp(inst, PLDM_PLATFORM, PLDM_GET_SENSOR_READING, PLDM_ERROR_INVALID_DATA, rsp);
	}
	const struct sensor_entry *e = by_id(id, &pdr);

	if (e == NULL) {
		return encode_cc_only_resp(inst, PLDM_PLATFORM, PLDM_GET_SENSOR_READING,
					   PLDM_PLATFORM_INVALID_SENSOR_ID, rsp);
	}
	if (read_raw(e, &pdr, &raw) == 0) {
		state = state_of(&pdr, raw);
	} else {
		op = PLDM_SENSOR_UNAVAILABLE;
		state = PLDM_SENSOR_UNKNOWN;
	}
	uint32_t le = sys_cpu_to_le32((uint32_t)raw);

	return encode_get_sensor_reading_resp(inst, PLDM_SUCCESS, PLDM_SENSOR_DATA_SIZE_SINT32, op,
					      PLDM_NO_EVENT_GENERATION, state, state, state, (const uint8_t *)&le,
					      rsp, PLDM_GET_SENSOR_READING_MIN_RESP_BYTES + 3);
}

int sensors_pldm_handle(const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	const struct pldm_msg *rq = (const struct pldm_msg *)req;
	struct pldm_msg *rsp = (struct pldm_msg *)out;
	struct pldm_header_info h;
	size_t payload = len - sizeof(struct pldm_msg_hdr);

	if (len < sizeof(struct pldm_msg_hdr) || cap < sizeof(struct pldm_msg_hdr) + 16 ||
	    unpack_pldm_header(&rq->hdr, &h) != PLDM_SUCCESS || h.msg_type != PLDM_REQUEST) {
		return -EINVAL;
	}
	if (h.pldm_type == PLDM_PLATFORM && h.command == PLDM_GET_SENSOR_READING) {
		if (get_sensor_reading(rq, payload, rsp, h.instance) != PLDM_SUCCESS) {
			return -EPROTO;
		}
		return sizeof(struct pldm_msg_hdr) + (rsp->payload[0] == PLDM_SUCCESS ? PLDM_GET_SENSOR_READING_MIN_RESP_BYTES + 3 : 1);
	}
	encode_cc_only_resp(h.instance, h.pldm_type, h.command, PLDM_ERROR_UNSUPPORTED_PLDM_CMD, rsp);
	return sizeof(struct pldm_msg_hdr) + 1;
}

/* What the shell asks: GetSensorReading through the terminus's own PLDM handler (libpldm on both
 * sides). 0, and the reading, its state and operational state; or -errno. */
static int reading(uint16_t id, int32_t *raw, uint8_t *state, uint8_t *op)
{
	uint8_t req[sizeof(struct pldm_msg_hdr) + PLDM_GET_SENSOR_READING_REQ_BYTES];
	uint8_t rsp[sizeof(struct pldm_msg_hdr) + 16];
	uint8_t cc, size, events, previous, event, value[4];
	int n;

	encode_get_sensor_reading_req(instance++ & 0x1f, id, false, (struct pldm_msg *)req);
	n = sensors_pldm_handle(req, sizeof(req), rsp, sizeof(rsp));
	if (n < 0) {
		return n;
	}
	if (decode_get_sensor_reading_resp((const struct pldm_msg *)rsp, n - sizeof(struct pldm_msg_hdr), &cc, &size,
					   op, &events, state, &previous, &event, value) != PLDM_SUCCESS ||
	    cc != PLDM_SUCCESS || size != PLDM_SENSOR_DATA_SIZE_SINT32) {
		return -EPROTO;
	}
	*raw = (int32_t)sys_get_le32(value);
	return 0;
}

static const char *unit_symbol(uint8_t base_unit)
{
	switch (base_unit) {
	case PLDM_SENSOR_UNIT_DEGRESS_C:
		return "C";
	case PLDM_SENSOR_UNIT_VOLTS:
		return "V";
	case PLDM_SENSOR_UNIT_AMPS:
		return "A";
	case PLDM_SENSOR_UNIT_WATTS:
		return "W";
	default:
		return "?";
	}
}

static const char *state_word(uint8_t state)
{
	switch (state) {
	case PLDM_SENSOR_NORMAL:
		return "normal";
	case PLDM_SENSOR_UPPERWARNING:
	case PLDM_SENSOR_LOWERWARNING:
	case PLDM_SENSOR_WARNING:
		return "warning";
	case PLDM_SENSOR_UPPERCRITICAL:
	case PLDM_SENSOR_LOWERCRITICAL:
	case PLDM_SENSOR_CRITICAL:
		return "critical";
	default:
		return "unknown";
	}
}

/* "12.345", "-0.500": thousandths of a unit as a decimal */
static const char *decimal(int32_t milli, char *buf, size_t n)
{
	uint32_t a = milli < 0 ? -(uint32_t)milli : (uint32_t)milli;

	snprintk(buf, n, "%s%u.%03u", milli < 0 ? "-" : "", a / 1000, a % 1000);
	return buf;
}

int sensors_init(void)
{
	repo = pldm_pdr_init();
	if (repo == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		uint32_t handle = 0;
		int rc = pldm_pdr_add(repo, entries[i].pdr, entries[i].pdr_len, false, 1, &handle);

		if (rc != 0) {
			printk("sensors: PDR of %s not added (%d)\n", entries[i].name, rc);
			return rc;
		}
	}
#ifdef CONFIG_EMUL
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		struct pldm_numeric_sensor_value_pdr pdr;

		if (entries[i].backdoor >= 0 && decode_numeric_sensor_pdr_data(entries[i].pdr, entries[i].pdr_len, &pdr) == 0) {
			int rc = twin_set(&entries[i], pdr.base_unit, pdr.nominal_value.value_s32);

			if (rc != 0) {
				printk("sensors: %s: the twin's emulator refused its nominal value (%d)\n", entries[i].name, rc);
			}
		}
	}
#endif
	printk("sensors: %u numeric sensor PDRs in the repository\n", pldm_pdr_get_record_count(repo));
	return 0;
}

static void show(const struct shell *sh, const struct sensor_entry *e, uint16_t id, uint8_t base_unit)
{
	int32_t raw;
	uint8_t state, op;
	char v[16];

	if (reading(id, &raw, &state, &op) != 0 || op != PLDM_SENSOR_ENABLED) {
		shell_print(sh, "%-20s unavailable", e->name);
		return;
	}
	shell_print(sh, "%-20s %10s %s %s", e->name, decimal(raw, v, sizeof(v)), unit_symbol(base_unit), state_word(state));
}

static int cmd_pdr(const struct shell *sh, size_t argc, char **argv)
{
	struct pldm_numeric_sensor_value_pdr p;
	static const struct {
		uint8_t bit;
		const char *name;
	} limits[] = {{4, "critical_low"}, {3, "warning_low"}, {0, "warning_high"}, {1, "critical_high"}};
	uint8_t *data = NULL;
	uint32_t size, next, count = 0;
	char line[160], v[16];

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	for (uint32_t handle = 0; pldm_pdr_find_record(repo, handle, &data, &size, &next) != NULL; handle = next) {
		if (decode_numeric_sensor_pdr_data(data, size, &p) == PLDM_SUCCESS && p.sensor_id >= 1 &&
		    p.sensor_id <= ARRAY_SIZE(entries)) {
			const int32_t values[] = {p.critical_low.value_s32, p.warning_low.value_s32,
						  p.warning_high.value_s32, p.critical_high.value_s32};
			int n = snprintk(line, sizeof(line), "pdr %u sensor %u %s %s", p.hdr.record_handle, p.sensor_id,
					 entries[p.sensor_id - 1].name, unit_symbol(p.base_unit));

			for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
				if (p.supported_thresholds.byte & BIT(limits[i].bit)) {
					n += snprintk(line + n, sizeof(line) - n, " %s %s", limits[i].name,
						      decimal(values[i], v, sizeof(v)));
				}
			}
			shell_print(sh, "%s", line);
			count++;
		}
		if (next == 0) {
			break;
		}
	}
	shell_print(sh, "pdr: %u numeric sensor PDRs", count);
	return 0;
}

static int cmd_sensors(const struct shell *sh, size_t argc, char **argv)
{
	struct pldm_numeric_sensor_value_pdr p;
	unsigned int read = 0;

	ARG_UNUSED(argc);
	ARG_UNUSED(argv);
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		int32_t raw;
		uint8_t state, op;

		decode_numeric_sensor_pdr_data(entries[i].pdr, entries[i].pdr_len, &p);
		show(sh, &entries[i], p.sensor_id, p.base_unit);
		read += reading(p.sensor_id, &raw, &state, &op) == 0 && op == PLDM_SENSOR_ENABLED;
	}
	shell_print(sh, "sensors: %u read, %u unavailable", read, (unsigned int)ARRAY_SIZE(entries) - read);
	return 0;
}

static int cmd_sensor(const struct shell *sh, size_t argc, char **argv)
{
	struct pldm_numeric_sensor_value_pdr p;
	const struct sensor_entry *e = sensors_find(argv[1]);

	ARG_UNUSED(argc);
	if (e == NULL) {
		shell_error(sh, "no sensor %s", argv[1]);
		return -EINVAL;
	}
	decode_numeric_sensor_pdr_data(e->pdr, e->pdr_len, &p);
	show(sh, e, p.sensor_id, p.base_unit);
	return 0;
}

SHELL_CMD_REGISTER(pdr, NULL, "List the PLDM numeric sensor PDRs (sensor, unit, thresholds)", cmd_pdr);
SHELL_CMD_REGISTER(sensors, NULL, "Read every sensor (PLDM GetSensorReading: value, unit, state)", cmd_sensors);
SHELL_CMD_ARG_REGISTER(sensor, NULL, "<name>: read one sensor", cmd_sensor, 2, 0);

#ifdef CONFIG_EMUL
static int cmd_twin_set(const struct shell *sh, size_t argc, char **argv)
{
	struct pldm_numeric_sensor_value_pdr p;
	const struct sensor_entry *e = sensors_find(argv[1]);
	char *end;
	long milli = strtol(argv[2], &end, 10);

	ARG_UNUSED(argc);
	if (e == NULL || e->backdoor < 0 || *end != '\0') {
		shell_error(sh, e == NULL ? "no sensor %s" : "%s: not an emulated sensor, or not a value in thousandths",
			    argv[1]);
		return -EINVAL;
	}
	decode_numeric_sensor_pdr_data(e->pdr, e->pdr_len, &p);
	int rc = twin_set(e, p.base_unit, (int32_t)milli);

	if (rc != 0) {
		shell_error(sh, "%s: the emulator refused %ld (%d)", e->name, milli, rc);
		return rc;
	}
	show(sh, e, p.sensor_id, p.base_unit);
	return 0;
}

SHELL_STATIC_SUBCMD_SET_CREATE(twin_cmds,
	SHELL_CMD_ARG(set, NULL, "<sensor> <value in thousandths of its unit>: move an emulated reading",
		      cmd_twin_set, 3, 0),
	SHELL_SUBCMD_SET_END);
SHELL_CMD_REGISTER(twin, &twin_cmds, "The QEMU twin's emulated sensors", NULL);
#endif
