/* test_model.c - architecture specs, validation, copies, checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bnn/model.h"

static bl_model *build(const char *spec)
{
    bl_model *m = NULL;
    bl_error e = { 0 };
    int rc = bl_model_from_spec(spec, NULL, &m, &e);
    if (rc)
        fail_msg("spec %s: %s", spec, e.msg);
    return m;
}

static void test_fc_spec(void **state)
{
    (void)state;
    bl_model *m = build("fc");
    assert_int_equal(m->nlayers, 5); /* fc1 bn1 fc2 bn2 fc3 */
    const char *names[] = { "fc1", "bn1", "fc2", "bn2", "fc3" };
    for (int i = 0; i < 5; i++)
        assert_string_equal(m->layers[i].name, names[i]);
    assert_int_equal(m->input.h, 28);
    assert_int_equal(m->input.c, 1);
    assert_int_equal(m->layers[0].cols, 784);
    assert_int_equal(m->layers[0].words_per_row, 13);
    assert_true(m->layers[0].real_input);
    assert_false(m->layers[2].real_input);
    assert_int_equal(m->nclasses, 10);
    assert_int_equal(bl_model_stored_bits(m), 784ull * 2048 + 2048ull * 2048 + 2048ull * 10);
    assert_int_equal(bl_model_macs(m), bl_model_stored_bits(m));
    assert_int_equal(bl_model_find_layer(m, "fc2"), 2);
    assert_int_equal(bl_model_find_layer(m, "nope"), -1);
    bl_model_free(m);
    /* the same as the explicit dense stack with an image input shape */
    bl_shape img = { 28, 28, 1 };
    bl_error e;
    assert_int_equal(bl_model_from_spec("784-2048-2048-10", &img, &m, &e), 0);
    assert_int_equal(m->input.w, 28);
    bl_model_free(m);
    assert_int_equal(bl_model_from_spec("785-10", &img, &m, &e), BL_EINVAL);
    assert_non_null(strstr(e.msg, "does not match"));
}

static void test_vgg3_spec(void **state)
{
    (void)state;
    bl_model *m = build("vgg3");
    const char *names[] = { "conv1", "pool1", "bn1", "conv2", "pool2", "bn2",
                            "flatten", "fc1", "bn3", "fc2" };
    assert_int_equal(m->nlayers, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(m->layers[i].name, names[i]);
    assert_int_equal(m->layers[3].words_per_tap, 1);
    assert_int_equal(m->layers[3].words_per_row, 9);
    assert_int_equal(m->layers[7].cols, 3136);
    /* valid taps over a 28x28 map: (3*28-2)^2 per channel pair */
    uint64_t conv1 = 82ull * 82 * 1 * 64, conv2 = 40ull * 40 * 64 * 64;
    assert_int_equal(bl_model_macs(m), conv1 + conv2 + 3136ull * 2048 + 2048ull * 10);
    bl_model_free(m);
}

static void test_bad_specs(void **state)
{
    (void)state;
    const char *bad[] = { "", "abc", "784", "784-", "-10", "28x28-10", "28x28x1-p-10",
                          "28x28x1-c4", "0-10", "784-0-10", "1x1x1-c2-p-3",
                          "99999999999-10" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bl_model *m = (bl_model *)1;
        bl_error e = { 0 };
        int rc = bl_model_from_spec(bad[i], NULL, &m, &e);
        if (rc == 0)
            fail_msg("spec '%s' accepted", bad[i]);
        assert_null(m);
        assert_true(strlen(e.msg) > 0);
    }
}

static void test_validate_catches_corruption(void **state)
{
    (void)state;
    bl_model *m = build("70-65-3");
    bl_model_randomize(m, 1);
    bl_error e;
    assert_int_equal(bl_model_validate(m, &e), 0);
    /* padding bits of a 70-bit row live in the second word above bit 6 */
    m->layers[0].weights[1] |= 1ull << 10;
    assert_int_equal(bl_model_validate(m, &e), BL_EFORMAT);
    assert_non_null(strstr(e.msg, "padding"));
    m->layers[0].weights[1] &= ~(1ull << 10);
    m->layers[1].dir[3] = 0;
    assert_int_equal(bl_model_validate(m, &e), BL_EFORMAT);
    m->layers[1].dir[3] = -1;
    assert_int_equal(bl_model_validate(m, &e), 0);
    m->nclasses = 4;
    assert_int_equal(bl_model_validate(m, &e), BL_EFORMAT);
    m->nclasses = 3;
    bl_model_free(m);

    m = build("5x7x3-c65-p-c3-p-10");
    bl_model_randomize(m, 2);
    assert_int_equal(bl_model_validate(m, &e), 0);
    /* conv taps are padded separately: 65 channels = 2 words per tap */
    assert_int_equal(m->layers[0].words_per_tap, 1);
    assert_int_equal(m->layers[3].words_per_tap, 2);
    m->layers[3].weights[1] |= 1ull << 63; /* tap 0, word 1, channel 127 */
    assert_int_equal(bl_model_validate(m, &e), BL_EFORMAT);
    bl_model_free(m);
}

static void test_clone_copy_checksum_meta(void **state)
{
    (void)state;
    bl_model *m = build("5x7x3-c65-p-c3-p-10"), *c;
    bl_model_randomize(m, 3);
    assert_int_equal(bl_model_meta_set(m, "name", "tiny"), 0);
    assert_int_equal(bl_model_meta_set(m, "name", "tiny2"), 0);
    assert_string_equal(bl_model_meta_get(m, "name"), "tiny2");
    assert_null(bl_model_meta_get(m, "absent"));
    bl_error e;
    assert_int_equal(bl_model_clone(m, &c, &e), 0);
    assert_int_equal(bl_model_checksum(m), bl_model_checksum(c));
    assert_string_equal(bl_model_meta_get(c, "name"), "tiny2");
    c->layers[3].weights[0] ^= 1;
    assert_int_not_equal(bl_model_checksum(m), bl_model_checksum(c));
    assert_int_equal(bl_model_copy_params(c, m, &e), 0);
    assert_int_equal(bl_model_checksum(m), bl_model_checksum(c));
    c->layers[2].tau[0]++;
    assert_int_not_equal(bl_model_checksum(m), bl_model_checksum(c));
    bl_model_free(c);
    bl_model *other = build("70-65-3");
    assert_int_equal(bl_model_copy_params(other, m, &e), BL_EINVAL);
    bl_model_free(other);
    bl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fc_spec),
        cmocka_unit_test(test_vgg3_spec),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_validate_catches_corruption),
        cmocka_unit_test(test_clone_copy_checksum_meta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
