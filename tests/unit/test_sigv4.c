/* Unit tests for src/sink/sigv4: AWS's published SigV4 examples, byte for byte
 * (the "get-vanilla" case of the SigV4 test suite, the S3 PUT Object and GET
 * Object examples of "Signature Calculations for the Authorization Header",
 * and the signing-key derivation example), plus URI encoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sink/sigv4.h"

#include <stdio.h>
#include <string.h>

static void hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

/* aws-sig-v4-test-suite/get-vanilla */
static void test_sigv4_signs_the_get_vanilla_suite_case(void **state)
{
    (void)state;
    const struct es_sigv4_header headers[] = {
        {"host", "example.amazonaws.com"},
        {"x-amz-date", "20150830T123600Z"},
    };
    char empty_hash[ES_SIGV4_HASH_HEX];
    es_sigv4_sha256_hex("", 0, empty_hash);
    assert_string_equal(empty_hash,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    struct es_sigv4_request r = {
        .method = "GET",
        .canonical_uri = "/",
        .canonical_query = "",
        .headers = headers,
        .header_count = 2,
        .payload_hash = empty_hash,
        .amz_date = "20150830T123600Z",
        .region = "us-east-1",
        .service = "service",
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    };
    char text[1024];
    assert_true(es_sigv4_canonical_request(&r, text, sizeof(text)));
    assert_string_equal(text, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
                              "\nhost;x-amz-date\n"
                              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_true(es_sigv4_string_to_sign(&r, text, sizeof(text)));
    assert_string_equal(text, "AWS4-HMAC-SHA256\n20150830T123600Z\n"
                              "20150830/us-east-1/service/aws4_request\n"
                              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    assert_true(es_sigv4_authorization(&r, text, sizeof(text)));
    assert_string_equal(
        text, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

/* "Example: PUT Object" (S3 docs, sigv4-header-based-auth): the key
 * "test$file.text" is encoded in the canonical URI, headers are given unsorted. */
static void test_sigv4_signs_the_s3_put_object_example(void **state)
{
    (void)state;
    const char *body = "Welcome to Amazon S3.";
    char body_hash[ES_SIGV4_HASH_HEX];
    es_sigv4_sha256_hex(body, strlen(body), body_hash);
    assert_string_equal(body_hash,
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    char uri[128];
    assert_true(es_sigv4_uri_encode("/test$file.text", true, uri, sizeof(uri)));
    assert_string_equal(uri, "/test%24file.text");
    const struct es_sigv4_header headers[] = {
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"}, {"host", "examplebucket.s3.amazonaws.com"},
        {"date", "Fri, 24 May 2013 00:00:00 GMT"},     {"x-amz-date", "20130524T000000Z"},
        {"x-amz-content-sha256", body_hash},
    };
    struct es_sigv4_request r = {
        .method = "PUT",
        .canonical_uri = uri,
        .canonical_query = "",
        .headers = headers,
        .header_count = 5,
        .payload_hash = body_hash,
        .amz_date = "20130524T000000Z",
        .region = "us-east-1",
        .service = "s3",
        .access_key_id = "AKIAIOSFODNN7EXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    char text[1024];
    assert_true(es_sigv4_canonical_request(&r, text, sizeof(text)));
    assert_string_equal(text,
                        "PUT\n/test%24file.text\n\n"
                        "date:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n"
                        "x-amz-content-sha256:"
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
                        "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
                        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    assert_true(es_sigv4_string_to_sign(&r, text, sizeof(text)));
    assert_string_equal(text, "AWS4-HMAC-SHA256\n20130524T000000Z\n"
                              "20130524/us-east-1/s3/aws4_request\n"
                              "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    assert_true(es_sigv4_authorization(&r, text, sizeof(text)));
    assert_string_equal(
        text,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

/* "Example: GET Object" of the same page, with a Range header. */
static void test_sigv4_signs_the_s3_get_object_example(void **state)
{
    (void)state;
    const char *empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const struct es_sigv4_header headers[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"range", "bytes=0-9"},
        {"x-amz-content-sha256", empty},
        {"x-amz-date", "20130524T000000Z"},
    };
    struct es_sigv4_request r = {
        .method = "GET",
        .canonical_uri = "/test.txt",
        .canonical_query = "",
        .headers = headers,
        .header_count = 4,
        .payload_hash = empty,
        .amz_date = "20130524T000000Z",
        .region = "us-east-1",
        .service = "s3",
        .access_key_id = "AKIAIOSFODNN7EXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    char text[1024];
    assert_true(es_sigv4_authorization(&r, text, sizeof(text)));
    assert_non_null(
        strstr(text, "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"));
}

/* "Examples of how to derive a signing key for Signature Version 4". */
static void test_sigv4_derives_the_documented_signing_key(void **state)
{
    (void)state;
    uint8_t key[32];
    char text[65];
    es_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam",
                         key);
    hex(key, 32, text);
    assert_string_equal(text, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void test_sigv4_canonical_headers_are_trimmed_and_folded(void **state)
{
    (void)state;
    const struct es_sigv4_header headers[] = {
        {"x-amz-date", "20150830T123600Z"},
        {"my-header1", "  value1   with  spaces "},
        {"host", "example.amazonaws.com"},
    };
    struct es_sigv4_request r = {
        .method = "GET",
        .canonical_uri = "",
        .canonical_query = "a=1",
        .headers = headers,
        .header_count = 3,
        .payload_hash = "UNSIGNED-PAYLOAD",
        .amz_date = "20150830T123600Z",
        .region = "r",
        .service = "s",
        .access_key_id = "A",
        .secret_access_key = "S",
    };
    char text[512];
    assert_true(es_sigv4_canonical_request(&r, text, sizeof(text)));
    assert_string_equal(text, "GET\n/\na=1\nhost:example.amazonaws.com\n"
                              "my-header1:value1 with spaces\nx-amz-date:20150830T123600Z\n\n"
                              "host;my-header1;x-amz-date\nUNSIGNED-PAYLOAD");
    /* Too small a buffer is refused, never cut short. */
    assert_false(es_sigv4_canonical_request(&r, text, 20));
    assert_false(es_sigv4_authorization(&r, text, 30));
}

static void test_sigv4_uri_encoding_keeps_only_unreserved_bytes(void **state)
{
    (void)state;
    char out[128];
    assert_true(es_sigv4_uri_encode("location_1/cam-1/segment_042.ts", true, out, sizeof(out)));
    assert_string_equal(out, "location_1/cam-1/segment_042.ts");
    assert_true(es_sigv4_uri_encode("a b/c~d+e=é", false, out, sizeof(out)));
    assert_string_equal(out, "a%20b%2Fc~d%2Be%3D%C3%A9");
    assert_false(es_sigv4_uri_encode("abcdef", true, out, 6));
    assert_true(es_sigv4_uri_encode("abcde", true, out, 6));
}

static void test_sigv4_amz_date_is_utc(void **state)
{
    (void)state;
    char date[ES_SIGV4_DATE];
    es_sigv4_amz_date(INT64_C(1440938160) * 1000000 + 999999, date);
    assert_string_equal(date, "20150830T123600Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_signs_the_get_vanilla_suite_case),
        cmocka_unit_test(test_sigv4_signs_the_s3_put_object_example),
        cmocka_unit_test(test_sigv4_signs_the_s3_get_object_example),
        cmocka_unit_test(test_sigv4_derives_the_documented_signing_key),
        cmocka_unit_test(test_sigv4_canonical_headers_are_trimmed_and_folded),
        cmocka_unit_test(test_sigv4_uri_encoding_keeps_only_unreserved_bytes),
        cmocka_unit_test(test_sigv4_amz_date_is_utc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
