/* Unit tests for the remote storage backends of src/config (storage: items with
 * backend: supabase and backend: s3): defaults from the option table, the environment
 * (SUPABASE_URL / SUPABASE_KEY as in the reference design, AWS_*), every error with
 * its file:line:column and key, and keys that never show up in a message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAMS "cameras:\n  - id: a\n    rtsp_url: test://\n"

static void clear_env(void)
{
    const char *vars[] = {"SUPABASE_URL", "SUPABASE_KEY", "AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static int setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

static void load_ok(const char *yaml, struct es_config *config)
{
    struct es_config_error err;
    if (es_config_load_string("test.yaml", yaml, strlen(yaml), config, &err) != ES_OK) {
        char text[1024];
        es_config_error_format(&err, text, sizeof(text));
        fail_msg("for:\n%s\nexpected success, got %s", yaml, text);
    }
}

static void expect_error(const char *yaml, unsigned line, unsigned column, const char *key,
                         const char *part)
{
    struct es_config config;
    struct es_config_error err;
    enum es_err e = es_config_load_string("test.yaml", yaml, strlen(yaml), &config, &err);
    char text[1024];
    es_config_error_format(&err, text, sizeof(text));
    if (e != ES_ERR_CONFIG || err.line != line || err.column != column ||
        strcmp(err.key, key) != 0 || !strstr(err.message, part))
        fail_msg("for:\n%s\nexpected %u:%u %s \"%s\"\ngot %s", yaml, line, column, key, part, text);
}

static void test_supabase_item_takes_its_keys_and_the_table_defaults(void **state)
{
    (void)state;
    struct es_config c;
    load_ok(CAMS "storage:\n  - backend: supabase\n    url: https://xyz.supabase.co\n"
                 "    key: sk_test_abc\n",
            &c);
    assert_true(c.supabase.remote.enabled);
    assert_false(c.s3.remote.enabled);
    assert_false(c.local.enabled); /* a storage: list names every backend */
    assert_string_equal(c.supabase.url, "https://xyz.supabase.co");
    assert_string_equal(c.supabase.key, "sk_test_abc");
    assert_string_equal(c.supabase.bucket, "streams");
    assert_string_equal(c.supabase.remote.segment_cache_control,
                        "public, max-age=31536000, immutable");
    assert_string_equal(c.supabase.remote.playlist_cache_control, "no-cache");
    assert_int_equal(c.supabase.remote.max_backlog_mb, 64);
    assert_int_equal(c.supabase.remote.connections, 4);
    assert_int_equal(c.supabase.remote.retry_max_ms, 2000);
    assert_int_equal(c.supabase.remote.stall_timeout_ms, 5000);
    assert_int_equal(c.supabase.remote.recheck_s, 60);
    assert_int_equal(c.supabase.remote.delete_interval_s, 10);
    es_config_free(&c);
}

static void test_supabase_url_and_key_come_from_the_environment(void **state)
{
    (void)state;
    setenv("SUPABASE_URL", "https://env.supabase.co", 1);
    setenv("SUPABASE_KEY", "sk_env_key", 1);
    struct es_config c;
    load_ok(CAMS "storage:\n  - backend: local\n  - backend: supabase\n    bucket: cams\n"
                 "    playlist_cache_control: \"max-age=1\"\n",
            &c);
    assert_true(c.local.enabled);
    assert_string_equal(c.supabase.url, "https://env.supabase.co");
    assert_string_equal(c.supabase.key, "sk_env_key");
    assert_string_equal(c.supabase.bucket, "cams");
    assert_string_equal(c.supabase.remote.playlist_cache_control, "max-age=1");
    es_config_free(&c);
    /* The item wins over the environment. */
    load_ok(CAMS "storage:\n  - backend: supabase\n    url: http://127.0.0.1:5000\n", &c);
    assert_string_equal(c.supabase.url, "http://127.0.0.1:5000");
    assert_string_equal(c.supabase.key, "sk_env_key");
    es_config_free(&c);
    clear_env();
}

static void test_reference_cameras_yaml_uploads_when_the_environment_says_so(void **state)
{
    (void)state;
    const char *list = "- id: cam_floor\n  rtsp_url: test://\n";
    struct es_config c;
    load_ok(list, &c);
    assert_false(c.supabase.remote.enabled);
    es_config_free(&c);

    setenv("SUPABASE_URL", "https://xxx.supabase.co", 1);
    load_ok(list, &c); /* only one of the two: a warning, no upload */
    assert_false(c.supabase.remote.enabled);
    es_config_free(&c);

    setenv("SUPABASE_KEY", "your-service-role-key", 1);
    load_ok(list, &c);
    assert_true(c.local.enabled);
    assert_true(c.supabase.remote.enabled);
    assert_string_equal(c.supabase.bucket, "streams");
    assert_string_equal(c.supabase.key, "your-service-role-key");
    es_config_free(&c);

    /* An explicit storage: list decides alone. */
    load_ok(CAMS "storage: []\n", &c);
    assert_false(c.supabase.remote.enabled);
    es_config_free(&c);

    setenv("SUPABASE_URL", "ftp://nope", 1);
    expect_error(list, 0, 0, "storage.url", "the environment variable SUPABASE_URL");
    clear_env();
}

static void test_supabase_without_url_or_key_names_both_places(void **state)
{
    (void)state;
    expect_error(CAMS "storage:\n  - backend: supabase\n    key: k\n", 5, 5, "storage[0].url",
                 "set url: in this item or the environment variable SUPABASE_URL");
    expect_error(CAMS "storage:\n  - backend: supabase\n    url: https://x.supabase.co\n", 5, 5,
                 "storage[0].key",
                 "set key: in this item or the environment variable SUPABASE_KEY");
}

static void test_remote_keys_are_checked_at_their_place(void **state)
{
    (void)state;
    expect_error(CAMS "storage:\n  - backend: supabase\n    url: ftp://x\n    key: k\n", 6, 10,
                 "storage[0].url", "must start with https://");
    expect_error(CAMS "storage:\n  - backend: supabase\n    url: https://u:p@x.co\n", 6, 10,
                 "storage[0].url", "must not carry credentials");
    expect_error(CAMS "storage:\n  - backend: supabase\n    bukcet: x\n", 6, 5, "storage[0].bukcet",
                 "did you mean 'bucket'?");
    expect_error(CAMS "storage:\n  - backend: supabase\n    max_backlog_mb: 0\n", 6, 21,
                 "storage[0].max_backlog_mb", "must be from 1 to 4096");
    expect_error(CAMS "storage:\n  - backend: supabase\n    region: eu\n", 6, 5,
                 "storage[0].region", "unknown key 'region'");
    expect_error(CAMS "storage:\n  - backend: local\n    bucket: x\n", 6, 5, "storage[0].bucket",
                 "unknown key 'bucket'");
    expect_error(CAMS "storage:\n  - backend: supabase\n    segment_cache_control: \"a\\nb\"\n", 6,
                 28, "storage[0].segment_cache_control", "printable ASCII");
    expect_error(CAMS "storage:\n  - {backend: supabase, url: \"https://a.co\", key: k}\n"
                      "  - {backend: supabase, url: \"https://b.co\", key: k}\n",
                 6, 15, "storage[1].backend", "backend 'supabase' is configured twice");
}

static void test_a_bad_key_is_never_quoted(void **state)
{
    (void)state;
    struct es_config c;
    struct es_config_error err;
    const char *yaml = CAMS "storage:\n  - backend: supabase\n    url: https://x.co\n"
                            "    key: \"sk_live_SECRET with space\"\n";
    assert_int_equal(es_config_load_string("t.yaml", yaml, strlen(yaml), &c, &err), ES_ERR_CONFIG);
    char text[1024];
    es_config_error_format(&err, text, sizeof(text));
    assert_null(strstr(text, "SECRET"));
    assert_non_null(strstr(text, "value not shown"));
    assert_int_equal(err.line, 7);
}

static void test_s3_item_with_environment_credentials(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI", 1);
    struct es_config c;
    load_ok(CAMS "storage:\n  - backend: s3\n    bucket: my-streams\n    region: eu-west-3\n"
                 "    endpoint: http://127.0.0.1:9000\n    url_style: path\n"
                 "    connections: 2\n",
            &c);
    assert_true(c.s3.remote.enabled);
    assert_string_equal(c.s3.bucket, "my-streams");
    assert_string_equal(c.s3.region, "eu-west-3");
    assert_string_equal(c.s3.endpoint, "http://127.0.0.1:9000");
    assert_int_equal(c.s3.url_style, ES_S3_URL_PATH);
    assert_string_equal(c.s3.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(c.s3.secret_access_key, "wJalrXUtnFEMI");
    assert_null(c.s3.session_token);
    assert_int_equal(c.s3.remote.connections, 2);
    es_config_free(&c);
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    load_ok(CAMS "storage:\n  - backend: s3\n    bucket: abc\n", &c);
    assert_null(c.s3.endpoint); /* AWS */
    assert_int_equal(c.s3.url_style, ES_S3_URL_AUTO);
    assert_string_equal(c.s3.region, "us-east-1");
    assert_string_equal(c.s3.session_token, "tok");
    es_config_free(&c);
    clear_env();
}

static void test_s3_errors_name_their_place(void **state)
{
    (void)state;
    expect_error(CAMS "storage:\n  - backend: s3\n    region: us-east-1\n", 5, 5,
                 "storage[0].bucket", "missing required key 'bucket'");
    expect_error(CAMS "storage:\n  - backend: s3\n    bucket: abc\n", 5, 5,
                 "storage[0].access_key_id", "AWS_ACCESS_KEY_ID");
    expect_error(CAMS "storage:\n  - backend: s3\n    bucket: abc\n    access_key_id: A\n", 5, 5,
                 "storage[0].secret_access_key", "AWS_SECRET_ACCESS_KEY");
    expect_error(CAMS "storage:\n  - backend: s3\n    bucket: abc\n    url_style: vhost\n", 7, 16,
                 "storage[0].url_style", "valid: auto, path, virtual");
    expect_error(CAMS "storage:\n  - backend: s3\n    bucket: ab\n", 6, 13, "storage[0].bucket",
                 "is too short (2 characters, at least 3)");
    expect_error(CAMS "storage:\n  - backend: s3\n    bucket: a/b\n", 6, 13, "storage[0].bucket",
                 "found '/'");
    expect_error(CAMS "storage:\n  - backend: s3\n    bucket: abc\n    region: EU\n", 7, 13,
                 "storage[0].region", "lowercase");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_supabase_item_takes_its_keys_and_the_table_defaults, setup),
        cmocka_unit_test_setup(test_supabase_url_and_key_come_from_the_environment, setup),
        cmocka_unit_test_setup(test_reference_cameras_yaml_uploads_when_the_environment_says_so,
                               setup),
        cmocka_unit_test_setup(test_supabase_without_url_or_key_names_both_places, setup),
        cmocka_unit_test_setup(test_remote_keys_are_checked_at_their_place, setup),
        cmocka_unit_test_setup(test_a_bad_key_is_never_quoted, setup),
        cmocka_unit_test_setup(test_s3_item_with_environment_credentials, setup),
        cmocka_unit_test_setup(test_s3_errors_name_their_place, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
