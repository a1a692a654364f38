/* Decode a PLDM firmware update package (argv[1]) with libpldm as a firmware device would, and
 * print its record, descriptors and components (test_update.py builds it against LIBPLDM_DIR). */
#include <libpldm/firmware_update.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    static unsigned char buf[1 << 24];
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
    if (!f) { printf("usage: %s PACKAGE\n", argv[0]); return 2; }
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    DEFINE_PLDM_PACKAGE_FORMAT_PIN_FR01H(pin);
    pldm_package_header_information_pad hdr;
    struct pldm_package_firmware_device_id_record rec;
    struct pldm_package_component_image_information info;
    struct pldm_package pkg = {0};
    int rc = decode_pldm_firmware_update_package(buf, n, &pin, &hdr, &pkg, 0);
    if (rc) { printf("header: %d\n", rc); return 1; }
    foreach_pldm_package_firmware_device_id_record(pkg, rec, rc) {
        printf("record: %zu descriptors bytes, package data %zu bytes, version %.*s\n", rec.record_descriptors.length,
               rec.firmware_device_package_data.length, (int)rec.component_image_set_version_string.length,
               (const char *)rec.component_image_set_version_string.ptr);
        struct pldm_descriptor desc;
        foreach_pldm_package_firmware_device_id_record_descriptor(pkg, rec, desc, rc) {
            printf("descriptor: type %u length %u\n", desc.descriptor_type, desc.descriptor_length);
        }
        if (rc) { printf("descriptors: %d\n", rc); return 1; }
    }
    if (rc) { printf("records: %d\n", rc); return 1; }
    foreach_pldm_package_component_image_information(pkg, info, rc) {
        printf("component: class %u id %u stamp %#x size %zu version %.*s\n", info.component_classification,
               info.component_identifier, info.component_comparison_stamp, info.component_image.length,
               (int)info.component_version_string.length, (const char *)info.component_version_string.ptr);
    }
    if (rc) { printf("components: %d\n", rc); return 1; }
    return 0;
}
