/* Unit tests for src/core: URL redaction (no secret ever reaches a log, and no
 * buffer size overflows), ISO 8601 wall-clock text both ways, and blob
 * reference counting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blob.h"
#include "core/clock.h"
#include "core/url.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-11-24T14:35:00.123Z */
#define PDT_A INT64_C(1795530900123000)

static void assert_redacts(const char *url, const char *expected)
{
    char out[512];
    memset(out, 'x', sizeof(out));
    es_url_redact(url, out, sizeof(out));
    assert_string_equal(out, expected);
}

/* ---- es_url_redact ---- */

static void test_redact_hides_the_password_in_userinfo(void **state)
{
    (void)state;
    assert_redacts("rtsp://admin:hunter2@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live");
    assert_redacts("rtsp://admin:hunter2@10.0.0.5:554/Streaming/Channels/101",
                   "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101");
    /* No path at all: the authority runs to the end of the string. */
    assert_redacts("rtsp://u:p@h", "rtsp://u:***@h");
}

static void test_redact_hides_a_password_that_contains_at_or_colon(void **state)
{
    (void)state;
    /* The host follows the last '@' of the authority; everything after the
     * first ':' of the userinfo is password. */
    assert_redacts("rtsp://admin:p@ss@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live");
    assert_redacts("rtsp://admin:a:b:c@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live");
}

static void test_redact_hides_every_query_value(void **state)
{
    (void)state;
    assert_redacts("rtsp://admin:hunter2@10.0.0.5/live?token=x",
                   "rtsp://admin:***@10.0.0.5/live?token=***");
    assert_redacts(
        "https://abc.supabase.co/storage/v1/object/sign/b/k.ts?token=eyJhbGciOi&expires=60",
        "https://abc.supabase.co/storage/v1/object/sign/b/k.ts?token=***&expires=***");
    /* Fields without a value stay as they are; empty values are masked too. */
    assert_redacts("rtsp://h/p?flag&key=&&x=1", "rtsp://h/p?flag&key=***&&x=***");
    assert_redacts("rtsp://h/p?", "rtsp://h/p?");
}

static void test_redact_keeps_a_url_without_userinfo_unchanged(void **state)
{
    (void)state;
    assert_redacts("rtsp://10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1");
    assert_redacts("v4l2:///dev/video0", "v4l2:///dev/video0");
    assert_redacts("file:///srv/media/shop.mp4", "file:///srv/media/shop.mp4");
    assert_redacts("test://", "test://");
    assert_redacts("", "");
    /* A password may contain a raw '/': the last '@' before the query ends the
     * userinfo, so an '@' in a path is masked too (safe side of the ambiguity). */
    assert_redacts("rtsp://admin:12/34@10.0.0.5/live", "rtsp://admin:***@10.0.0.5/live");
}

static void test_redact_keeps_a_user_without_password(void **state)
{
    (void)state;
    assert_redacts("rtsp://admin@10.0.0.5/live", "rtsp://admin@10.0.0.5/live");
}

static void test_redact_handles_ipv6_hosts(void **state)
{
    (void)state;
    /* The colons of an IPv6 literal are not a password separator. */
    assert_redacts("rtsp://[::1]:8554/cam", "rtsp://[::1]:8554/cam");
    assert_redacts("rtsps://[fe80::1]:322/live", "rtsps://[fe80::1]:322/live");
    assert_redacts("rtsp://admin:pw@[fe80::1]:554/live", "rtsp://admin:***@[fe80::1]:554/live");
    assert_redacts("rtsp://admin@[2001:db8::7]/live?token=t",
                   "rtsp://admin@[2001:db8::7]/live?token=***");
}

static void test_redact_masks_the_query_before_a_fragment(void **state)
{
    (void)state;
    char out[256];
    es_url_redact("https://h/p?token=abc123#section", out, sizeof(out));
    assert_null(strstr(out, "abc123"));
    assert_memory_equal(out, "https://h/p?token=***", strlen("https://h/p?token=***"));
    /* Fragments are hidden too: OAuth-style links carry tokens there. */
    assert_redacts("rtsp://h/live#access_token=abc", "rtsp://h/live#***");
    /* The authority ends at '#', so an '@' after it is no userinfo. */
    assert_redacts("rtsp://h#a:b@c", "rtsp://h#***");
}

static void test_redact_without_scheme_still_masks_query_values(void **state)
{
    (void)state;
    assert_redacts("segment_001.ts?token=secret", "segment_001.ts?token=***");
    assert_redacts("plain text", "plain text");
}

static void test_redact_truncates_to_any_buffer_size_without_overflow(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "rtsp://admin:hunter2@10.0.0.5:554/live?token=abcdef&x=1#frag",
        "rtsp://admin:pw@[fe80::1]:554/live",
        "rtsp://10.0.0.5/live",
        "https://h/p?a=1&b=2&c=3",
    };
    for (size_t u = 0; u < sizeof(urls) / sizeof(urls[0]); u++) {
        char full[512];
        es_url_redact(urls[u], full, sizeof(full));
        size_t full_len = strlen(full);
        for (size_t size = 1; size <= full_len + 2; size++) {
            /* Exactly `size` bytes on the heap: AddressSanitizer catches a write
             * one past the end. */
            char *out = malloc(size);
            assert_non_null(out);
            memset(out, 'x', size);
            es_url_redact(urls[u], out, size);
            size_t want = full_len < size - 1 ? full_len : size - 1;
            assert_int_equal(strlen(out), want);
            assert_memory_equal(out, full, want);
            assert_null(strstr(out, "hunter2"));
            assert_null(strstr(out, "abcdef"));
            free(out);
        }
    }
}

static void test_redact_with_zero_size_writes_nothing(void **state)
{
    (void)state;
    char out[4] = {'x', 'x', 'x', 'x'};
    es_url_redact("rtsp://a:b@h/", out, 0);
    assert_memory_equal(out, "xxxx", 4);
}

/* ---- ISO 8601 ---- */

static void test_iso8601_formats_utc_with_milliseconds(void **state)
{
    (void)state;
    char out[48];
    es_clock_format_iso8601(PDT_A, out, sizeof(out));
    assert_string_equal(out, "2026-11-24T14:35:00.123Z");
    es_clock_format_iso8601(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    /* Microseconds are cut to milliseconds, not rounded up into the next second. */
    es_clock_format_iso8601(PDT_A + 876999, out, sizeof(out));
    assert_string_equal(out, "2026-11-24T14:35:00.999Z");
    /* A leap day. */
    es_clock_format_iso8601(INT64_C(1709164800000000) + 7000, out, sizeof(out));
    assert_string_equal(out, "2024-02-29T00:00:00.007Z");
}

static void test_iso8601_format_truncates_to_small_buffers(void **state)
{
    (void)state;
    for (size_t size = 1; size <= 26; size++) {
        char *out = malloc(size);
        assert_non_null(out);
        es_clock_format_iso8601(PDT_A, out, size);
        assert_int_equal(strlen(out), size - 1 < 24 ? size - 1 : 24);
        assert_memory_equal(out, "2026-11-24T14:35:00.123Z", strlen(out));
        free(out);
    }
}

static void test_iso8601_parses_what_it_formats(void **state)
{
    (void)state;
    /* Every step lands on another millisecond, day, month and year. */
    for (int64_t t = 1000; t < INT64_C(4102444800000000); t += INT64_C(86399001234)) {
        int64_t ms = t - t % 1000;
        char text[48];
        es_clock_format_iso8601(ms, text, sizeof(text));
        int64_t back = -1;
        assert_int_equal(es_clock_parse_iso8601(text, &back), 0);
        assert_int_equal(back, ms);
    }
}

static void test_iso8601_parse_applies_offsets(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.123Z", &v), 0);
    assert_int_equal(v, PDT_A);
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.123+00:00", &v), 0);
    assert_int_equal(v, PDT_A);
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T15:35:00.123+01:00", &v), 0);
    assert_int_equal(v, PDT_A);
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T20:05:00.123+05:30", &v), 0);
    assert_int_equal(v, PDT_A);
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T09:35:00.123-05:00", &v), 0);
    assert_int_equal(v, PDT_A);
    /* A negative offset under an hour keeps its sign. */
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:05:00.123-00:30", &v), 0);
    assert_int_equal(v, PDT_A);
    /* Crossing midnight and a year boundary. */
    assert_int_equal(es_clock_parse_iso8601("2027-01-01T01:00:00.000+02:00", &v), 0);
    int64_t expected = 0;
    assert_int_equal(es_clock_parse_iso8601("2026-12-31T23:00:00.000Z", &expected), 0);
    assert_int_equal(v, expected);
}

static void test_iso8601_parse_reads_fractions_of_any_length(void **state)
{
    (void)state;
    int64_t base = PDT_A - 123000, v = 0;
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:35:00Z", &v), 0);
    assert_int_equal(v, base);
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.5Z", &v), 0);
    assert_int_equal(v, base + 500000);
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.123456Z", &v), 0);
    assert_int_equal(v, base + 123456);
    /* Beyond microseconds the digits are ignored. */
    assert_int_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.1234569Z", &v), 0);
    assert_int_equal(v, base + 123456);
}

static void test_iso8601_parse_rejects_malformed_text(void **state)
{
    (void)state;
    int64_t v = 42;
    assert_int_not_equal(es_clock_parse_iso8601("", &v), 0);
    assert_int_not_equal(es_clock_parse_iso8601("yesterday", &v), 0);
    assert_int_not_equal(es_clock_parse_iso8601("2026-11-24", &v), 0);
    assert_int_not_equal(es_clock_parse_iso8601("2026-11-24T14:35", &v), 0);
    /* No zone at all, or a zone that is neither Z nor an offset. */
    assert_int_not_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.123", &v), 0);
    assert_int_not_equal(es_clock_parse_iso8601("2026-11-24T14:35:00.123 UTC", &v), 0);
    assert_int_not_equal(es_clock_parse_iso8601("2026-11-24T14:35:00+", &v), 0);
    assert_int_not_equal(es_clock_parse_iso8601("2026-11-24T14:35:00+xx:yy", &v), 0);
    assert_int_equal(v, 42);
}

static void test_clocks_move_forward(void **state)
{
    (void)state;
    int64_t mono = es_clock_mono_us();
    int64_t wall = es_clock_wall_us();
    es_clock_sleep_us(2000);
    assert_true(es_clock_mono_us() - mono >= 2000);
    /* Wall time is microseconds since the epoch: after 2020. */
    assert_true(wall > INT64_C(1577836800000000));
    es_clock_sleep_us(0);
    es_clock_sleep_us(-5);
}

/* ---- blobs ---- */

static int frees;
static void *freed_pointer;

static void counting_free(void *p)
{
    frees++;
    freed_pointer = p;
    free(p);
}

static void test_blob_is_freed_once_at_the_last_unref(void **state)
{
    (void)state;
    frees = 0;
    uint8_t *bytes = malloc(4);
    assert_non_null(bytes);
    memcpy(bytes, "\x47\x40\x00\x10", 4);
    struct es_blob *blob = es_blob_take(bytes, 4, counting_free);
    assert_ptr_equal(es_blob_data(blob), bytes);
    assert_int_equal(es_blob_size(blob), 4);

    assert_ptr_equal(es_blob_ref(blob), blob);
    es_blob_ref(blob);
    es_blob_unref(blob);
    es_blob_unref(blob);
    assert_int_equal(frees, 0);
    assert_int_equal(es_blob_data(blob)[0], 0x47);
    es_blob_unref(blob);
    assert_int_equal(frees, 1);
    assert_ptr_equal(freed_pointer, bytes);
}

static void test_blob_unref_of_null_does_nothing(void **state)
{
    (void)state;
    es_blob_unref(NULL);
}

static void test_blob_copy_owns_its_own_bytes(void **state)
{
    (void)state;
    char source[] = "segment bytes";
    struct es_blob *blob = es_blob_copy(source, sizeof(source));
    memset(source, 0, sizeof(source));
    assert_int_equal(es_blob_size(blob), sizeof(source));
    assert_string_equal((const char *)es_blob_data(blob), "segment bytes");
    es_blob_unref(blob);

    /* Zero bytes is a valid, empty blob. */
    struct es_blob *empty = es_blob_copy(source, 0);
    assert_int_equal(es_blob_size(empty), 0);
    es_blob_unref(empty);
}

static void test_blob_take_without_free_fn_uses_free(void **state)
{
    (void)state;
    uint8_t *bytes = malloc(16);
    assert_non_null(bytes);
    es_blob_unref(es_blob_take(bytes, 16, NULL)); /* LeakSanitizer checks the free */
}

#define REF_THREADS 4
#define REF_ROUNDS 20000

static void *ref_unref_many(void *arg)
{
    struct es_blob *blob = arg;
    for (int i = 0; i < REF_ROUNDS; i++) {
        es_blob_ref(blob);
        es_blob_unref(blob);
    }
    return NULL;
}

static void test_blob_refcount_survives_concurrent_holders(void **state)
{
    (void)state;
    frees = 0;
    uint8_t *bytes = malloc(8);
    assert_non_null(bytes);
    struct es_blob *blob = es_blob_take(bytes, 8, counting_free);
    pthread_t threads[REF_THREADS];
    for (int i = 0; i < REF_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, ref_unref_many, blob), 0);
    for (int i = 0; i < REF_THREADS; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(frees, 0);
    es_blob_unref(blob);
    assert_int_equal(frees, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_hides_the_password_in_userinfo),
        cmocka_unit_test(test_redact_hides_a_password_that_contains_at_or_colon),
        cmocka_unit_test(test_redact_hides_every_query_value),
        cmocka_unit_test(test_redact_keeps_a_url_without_userinfo_unchanged),
        cmocka_unit_test(test_redact_keeps_a_user_without_password),
        cmocka_unit_test(test_redact_handles_ipv6_hosts),
        cmocka_unit_test(test_redact_masks_the_query_before_a_fragment),
        cmocka_unit_test(test_redact_without_scheme_still_masks_query_values),
        cmocka_unit_test(test_redact_truncates_to_any_buffer_size_without_overflow),
        cmocka_unit_test(test_redact_with_zero_size_writes_nothing),
        cmocka_unit_test(test_iso8601_formats_utc_with_milliseconds),
        cmocka_unit_test(test_iso8601_format_truncates_to_small_buffers),
        cmocka_unit_test(test_iso8601_parses_what_it_formats),
        cmocka_unit_test(test_iso8601_parse_applies_offsets),
        cmocka_unit_test(test_iso8601_parse_reads_fractions_of_any_length),
        cmocka_unit_test(test_iso8601_parse_rejects_malformed_text),
        cmocka_unit_test(test_clocks_move_forward),
        cmocka_unit_test(test_blob_is_freed_once_at_the_last_unref),
        cmocka_unit_test(test_blob_unref_of_null_does_nothing),
        cmocka_unit_test(test_blob_copy_owns_its_own_bytes),
        cmocka_unit_test(test_blob_take_without_free_fn_uses_free),
        cmocka_unit_test(test_blob_refcount_survives_concurrent_holders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
