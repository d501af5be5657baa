/* Unit tests for src/origin/path.c: every spelling of a way out of a directory
 * is refused, names and query directives are read strictly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "origin/path.h"

#include <stdint.h>
#include <string.h>

static enum es_err parse(const char *raw, struct es_path *p)
{
    return es_path_parse(raw, strlen(raw), p);
}

static void test_path_splits_plain_paths_into_segments(void **state)
{
    (void)state;
    struct es_path p;
    assert_int_equal(parse("/live/cam_1/stream.m3u8", &p), ES_OK);
    assert_int_equal(p.count, 3);
    assert_string_equal(p.segments[0], "live");
    assert_string_equal(p.segments[1], "cam_1");
    assert_string_equal(p.segments[2], "stream.m3u8");
    assert_false(p.trailing_slash);
    assert_int_equal(parse("/", &p), ES_OK);
    assert_int_equal(p.count, 0);
    assert_int_equal(parse("/assets/", &p), ES_OK);
    assert_int_equal(p.count, 1);
    assert_true(p.trailing_slash);
}

static void test_path_decodes_percent_escapes_once(void **state)
{
    (void)state;
    struct es_path p;
    assert_int_equal(parse("/a%5Fb/c%2Ed", &p), ES_OK);
    assert_string_equal(p.segments[0], "a_b");
    assert_string_equal(p.segments[1], "c.d");
}

static void test_path_refuses_every_traversal_spelling(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "/../etc/passwd",
        "/live/../../etc/passwd",
        "/live/cam/..",
        "/./index.html",
        "/%2e%2e/etc/passwd",
        "/%2E%2E/etc/passwd",
        "/.%2e/etc/passwd",
        "/%2e./etc/passwd",
        "/%252e%252e/etc/passwd", /* double encoding: '%' survives one decode */
        "/%25252e/x",
        "/live/cam/..%2f..%2fetc%2fpasswd",
        "/live/cam/%2e%2e%2f%2e%2e%2fetc",
        "/..\\..\\etc\\passwd",
        "/%5c..%5c..%5cetc",
        "/index.html%00.m3u8",
        "/a%00",
        "//etc/passwd",
        "/a//b",
        "etc/passwd",
        "http://example.com/",
        "*",
        "/%c0%ae%c0%ae/etc", /* overlong UTF-8 '.' */
        "/a%",
        "/a%2",
        "/a%zz",
        "/a\tb",
        "/a%0d%0aSet-Cookie:x",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_path p;
        enum es_err err = parse(bad[i], &p);
        if (err == ES_OK)
            fail_msg("accepted %s", bad[i]);
    }
}

static void test_path_rejects_long_and_deep_paths_as_too_long(void **state)
{
    (void)state;
    char raw[ES_PATH_MAX + 10];
    raw[0] = '/';
    memset(raw + 1, 'a', sizeof(raw) - 2);
    raw[sizeof(raw) - 1] = '\0';
    struct es_path p;
    assert_int_equal(parse(raw, &p), ES_ERR_UNSUPPORTED);
    char deep[200] = "";
    for (int i = 0; i < ES_PATH_SEGMENTS_MAX + 1; i++)
        strcat(deep, "/a");
    assert_int_equal(parse(deep, &p), ES_ERR_UNSUPPORTED);
}

static void test_path_names_are_plain_and_never_hidden(void **state)
{
    (void)state;
    assert_true(es_path_is_name("index-CO9A54rJ.js"));
    assert_true(es_path_is_name("hls.worker-DX51GcGk.js"));
    assert_false(es_path_is_name(".env"));
    assert_false(es_path_is_name(".."));
    assert_false(es_path_is_name("a b"));
    assert_false(es_path_is_name("a:b"));
    assert_false(es_path_is_name(""));
}

static void test_query_reads_ll_hls_directives(void **state)
{
    (void)state;
    struct es_query q;
    const char *raw = "_HLS_msn=1234&_HLS_part=3&_HLS_skip=YES&x=1";
    assert_int_equal(es_query_parse(raw, strlen(raw), &q), ES_OK);
    assert_true(q.has_msn && q.has_part && q.skip);
    assert_int_equal(q.msn, 1234);
    assert_int_equal(q.part, 3);
    raw = "_HLS_skip=v2&token=a%2Bb";
    assert_int_equal(es_query_parse(raw, strlen(raw), &q), ES_OK);
    assert_true(q.skip && q.has_token);
    assert_string_equal(q.token, "a+b");
    raw = "_HLS_msn=18446744073709551615";
    assert_int_equal(es_query_parse(raw, strlen(raw), &q), ES_OK);
    assert_true(q.msn == UINT64_MAX);
}

static void test_query_refuses_malformed_and_huge_directives(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "_HLS_msn=",
        "_HLS_msn=-1",
        "_HLS_msn=+1",
        "_HLS_msn=1.5",
        "_HLS_msn=0x10",
        "_HLS_msn=18446744073709551616",
        "_HLS_msn=99999999999999999999999",
        "_HLS_part=4294967296",
        "_HLS_part=abc",
        "_HLS_msn=1&_HLS_msn=2",
        "_HLS_part=1&_HLS_part=1",
        "_HLS_skip=NO",
        "_HLS_skip=",
        "_HLS_skip=yes",
        "_HLS_msn=1%00",
        "_HLS_msn=%zz",
        "_HLS_msn= 1",
        "token=a&token=b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_query q;
        if (es_query_parse(bad[i], strlen(bad[i]), &q) == ES_OK)
            fail_msg("accepted %s", bad[i]);
    }
    char token[600] = "token=";
    memset(token + 6, 'x', 500);
    token[506] = '\0';
    struct es_query q;
    assert_int_equal(es_query_parse(token, strlen(token), &q), ES_ERR_INVALID);
}

static void test_path_numbers_are_matched_exactly(void **state)
{
    (void)state;
    uint64_t a, b;
    assert_true(es_path_match_numbers("part_12_3.m4s", "part_", ".m4s", false, &a, &b));
    assert_int_equal(a, 12);
    assert_int_equal(b, 3);
    assert_false(es_path_match_numbers("part_012_3.m4s", "part_", ".m4s", false, &a, &b));
    assert_false(es_path_match_numbers("part_12.m4s", "part_", ".m4s", false, &a, &b));
    assert_false(es_path_match_numbers("part_12_3_4.m4s", "part_", ".m4s", false, &a, &b));
    assert_false(es_path_match_numbers("part_-1_3.m4s", "part_", ".m4s", false, &a, &b));
    assert_true(es_path_match_numbers("segment_007.ts", "segment_", ".ts", true, &a, NULL));
    assert_int_equal(a, 7);
    assert_false(es_path_match_numbers("segment_99999999999999999999999.ts", "segment_", ".ts",
                                       true, &a, NULL));
    assert_false(es_path_match_numbers("seg_.m4s", "seg_", ".m4s", false, &a, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_splits_plain_paths_into_segments),
        cmocka_unit_test(test_path_decodes_percent_escapes_once),
        cmocka_unit_test(test_path_refuses_every_traversal_spelling),
        cmocka_unit_test(test_path_rejects_long_and_deep_paths_as_too_long),
        cmocka_unit_test(test_path_names_are_plain_and_never_hidden),
        cmocka_unit_test(test_query_reads_ll_hls_directives),
        cmocka_unit_test(test_query_refuses_malformed_and_huge_directives),
        cmocka_unit_test(test_path_numbers_are_matched_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
