/* Unit tests for src/config/diff.c: what a reload compares. Configs are loaded
 * from YAML text, so defaults and profiles apply as in the daemon. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config/diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void load(const char *yaml, struct es_config *config)
{
    struct es_config_error err;
    if (es_config_load_string("test.yaml", yaml, strlen(yaml), config, &err) != ES_OK) {
        char text[1024];
        es_config_error_format(&err, text, sizeof(text));
        fail_msg("%s", text);
    }
}

#define CAMERA(settings)                                                                           \
    "cameras:\n"                                                                                   \
    "  - id: cam\n"                                                                                \
    "    rtsp_url: rtsp://127.0.0.1/a\n"                                                           \
    "    settings:\n"                                                                              \
    "      target_fps: 15\n" settings

/* The first camera of two configs; the configs are freed by the caller. */
static const char *difference(const char *a_yaml, const char *b_yaml)
{
    struct es_config a, b;
    load(a_yaml, &a);
    load(b_yaml, &b);
    const char *key = es_config_camera_difference(&a.cameras[0], &b.cameras[0]);
    assert_int_equal(key == NULL, es_config_camera_equal(&a.cameras[0], &b.cameras[0]));
    static char out[64];
    snprintf(out, sizeof(out), "%s", key ? key : "");
    es_config_free(&a);
    es_config_free(&b);
    return out;
}

static void test_the_same_camera_written_again_is_equal(void **state)
{
    (void)state;
    assert_string_equal(difference(CAMERA(""), CAMERA("")), "");
}

static void test_a_default_written_out_is_no_change(void **state)
{
    (void)state;
    /* segment_duration 2 is the default: the camera streams the same. */
    assert_string_equal(difference(CAMERA(""), CAMERA("      segment_duration: 2\n")), "");
}

static void test_a_changed_setting_is_named(void **state)
{
    (void)state;
    assert_string_equal(difference(CAMERA(""), CAMERA("      segments_to_keep: 6\n")),
                        "segments_to_keep");
    assert_string_equal(difference(CAMERA(""), CAMERA("      transcode: copy\n")), "transcode");
    assert_string_equal(difference(CAMERA(""), CAMERA("      delete_grace: 60\n")),
                        "delete_grace");
}

static void test_a_profile_that_changes_settings_is_a_change(void **state)
{
    (void)state;
    const char *key = difference(CAMERA(""), CAMERA("      profile: ll\n"));
    assert_true(strcmp(key, "profile") == 0 || strcmp(key, "segment_duration") == 0 ||
                strcmp(key, "part_target") == 0);
}

static void test_a_new_url_is_a_change(void **state)
{
    (void)state;
    const char *b = "cameras:\n"
                    "  - id: cam\n"
                    "    rtsp_url: rtsp://127.0.0.1/b\n"
                    "    settings:\n"
                    "      target_fps: 15\n";
    assert_string_equal(difference(CAMERA(""), b), "rtsp_url");
}

struct keys {
    char names[16][160];
    size_t count;
};

static void collect(void *opaque, const char *key)
{
    struct keys *k = opaque;
    if (k->count < 16)
        snprintf(k->names[k->count++], sizeof(k->names[0]), "%s", key);
}

static size_t restart_keys(const char *a_yaml, const char *b_yaml, struct keys *k)
{
    struct es_config a, b;
    load(a_yaml, &a);
    load(b_yaml, &b);
    memset(k, 0, sizeof(*k));
    size_t n = es_config_restart_keys(&a, &b, collect, k);
    es_config_free(&a);
    es_config_free(&b);
    assert_int_equal(n, k->count);
    return n;
}

static void test_camera_changes_need_no_restart(void **state)
{
    (void)state;
    struct keys k;
    assert_int_equal(restart_keys(CAMERA(""), CAMERA("      segments_to_keep: 9\n"), &k), 0);
}

static void test_origin_and_storage_changes_are_named_without_values(void **state)
{
    (void)state;
    const char *a = "storage:\n"
                    "  - backend: local\n"
                    "    root: /srv/a\n"
                    "origin:\n"
                    "  listen: 127.0.0.1:8080\n"
                    "  token: secret-one\n" CAMERA("");
    const char *b = "storage:\n"
                    "  - backend: local\n"
                    "    root: /srv/b\n"
                    "origin:\n"
                    "  listen: 127.0.0.1:9090\n"
                    "  token: secret-two\n"
                    "  webrtc:\n"
                    "    udp_port: 9000\n" CAMERA("");
    struct keys k;
    assert_int_equal(restart_keys(a, b, &k), 4);
    assert_string_equal(k.names[0], "storage.local.root");
    assert_string_equal(k.names[1], "origin.listen");
    assert_string_equal(k.names[2], "origin.token");
    assert_string_equal(k.names[3], "origin.webrtc.udp_port");
    for (size_t i = 0; i < k.count; i++)
        assert_null(strstr(k.names[i], "secret"));
}

static void test_a_backend_added_is_named_once(void **state)
{
    (void)state;
    const char *a = "storage:\n"
                    "  - backend: local\n" CAMERA("");
    const char *b = "storage:\n"
                    "  - backend: local\n"
                    "  - backend: s3\n"
                    "    bucket: my-bucket\n"
                    "    access_key_id: AKIAEXAMPLE\n"
                    "    secret_access_key: example-secret\n" CAMERA("");
    struct keys k;
    assert_int_equal(restart_keys(a, b, &k), 1);
    assert_string_equal(k.names[0], "storage.s3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_same_camera_written_again_is_equal),
        cmocka_unit_test(test_a_default_written_out_is_no_change),
        cmocka_unit_test(test_a_changed_setting_is_named),
        cmocka_unit_test(test_a_profile_that_changes_settings_is_a_change),
        cmocka_unit_test(test_a_new_url_is_a_change),
        cmocka_unit_test(test_camera_changes_need_no_restart),
        cmocka_unit_test(test_origin_and_storage_changes_are_named_without_values),
        cmocka_unit_test(test_a_backend_added_is_named_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
