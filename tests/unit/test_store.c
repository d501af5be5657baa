/* Unit tests for src/sink/store, supabase and s3: the requests each store builds (URL,
 * method, headers, bodies: the exact API of ../shared/reference/supabase-storage-api.md
 * and of S3), how each judges an answer (HTTP status *and* body: Supabase's HTTP-400
 * envelope with the real class inside, S3's XML codes, CDN HTML pages), listing, and
 * that secrets are scrubbed from any text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sink/s3.h"
#include "sink/sigv4.h"
#include "sink/store.h"
#include "sink/supabase.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "sb_secret_TESTKEY_0123456789abcdef"

static struct es_store *supabase(void)
{
    struct es_supabase_storage cfg = {0};
    cfg.url = "https://xyz.supabase.co/";
    cfg.key = KEY;
    cfg.bucket = "streams";
    struct es_store *s = NULL;
    assert_int_equal(es_supabase_store_create(&cfg, &s), ES_OK);
    return s;
}

static bool has_header(const struct curl_slist *h, const char *line)
{
    for (; h; h = h->next)
        if (strcmp(h->data, line) == 0)
            return true;
    return false;
}

static const char *header_value(const struct curl_slist *h, const char *name)
{
    size_t n = strlen(name);
    for (; h; h = h->next)
        if (strncmp(h->data, name, n) == 0 && h->data[n] == ':')
            return h->data + n + 2;
    return NULL;
}

/* ---- Supabase requests ---- */

static void test_supabase_segment_upload_is_a_raw_post_without_upsert(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    struct es_store_request r;
    const uint8_t body[] = {0x47, 1, 2, 3};
    s->ops->put(s, "location_1/cam_floor/segment_042.ts", body, sizeof(body), "video/mp2t",
                "public, max-age=31536000, immutable", false, &r);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "https://xyz.supabase.co/storage/v1/object/streams/"
                               "location_1/cam_floor/segment_042.ts");
    assert_true(has_header(r.headers, "Authorization: Bearer " KEY));
    assert_true(has_header(r.headers, "apikey: " KEY));
    assert_true(has_header(r.headers, "Content-Type: video/mp2t"));
    assert_true(has_header(r.headers, "Cache-Control: public, max-age=31536000, immutable"));
    assert_true(has_header(r.headers, "Expect:"));
    assert_null(header_value(r.headers, "x-upsert"));
    assert_ptr_equal(r.body, body); /* the blob's bytes, not a copy */
    assert_int_equal(r.body_size, 4);
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

static void test_supabase_playlist_upload_upserts_with_exactly_true(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    struct es_store_request r;
    s->ops->put(s, "location_1/cam_floor/stream.m3u8", (const uint8_t *)"#EXTM3U\n", 8,
                "application/vnd.apple.mpegurl", "no-cache", true, &r);
    assert_true(has_header(r.headers, "x-upsert: true"));
    assert_true(has_header(r.headers, "Content-Type: application/vnd.apple.mpegurl"));
    assert_true(has_header(r.headers, "Cache-Control: no-cache"));
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

static void test_supabase_delete_sends_exact_names_in_one_json_body(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    assert_int_equal(s->max_delete_batch, 1000);
    const char *names[] = {"location_1/cam/segment_001.ts", "location_1/cam/segment_002.ts"};
    struct es_store_request r;
    s->ops->delete_objects(s, names, 2, &r);
    assert_string_equal(r.method, "DELETE");
    assert_string_equal(r.url, "https://xyz.supabase.co/storage/v1/object/streams");
    assert_true(has_header(r.headers, "Content-Type: application/json"));
    char body[256];
    snprintf(body, sizeof(body), "%.*s", (int)r.body_size, (const char *)r.body);
    assert_string_equal(body, "{\"prefixes\":[\"location_1/cam/segment_001.ts\","
                              "\"location_1/cam/segment_002.ts\"]}");
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

static void test_supabase_recovery_reads_the_origin_not_the_public_url(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    struct es_store_request r;
    s->ops->get(s, "location_1/cam/stream.m3u8", &r);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://xyz.supabase.co/storage/v1/object/authenticated/streams/"
                               "location_1/cam/stream.m3u8");
    es_store_request_clear(&r);
    s->ops->list(s, "location_1/cam/", "", &r);
    assert_string_equal(r.url, "https://xyz.supabase.co/storage/v1/object/list/streams");
    assert_non_null(strstr((const char *)r.body, "\"prefix\":\"location_1/cam/\""));
    assert_non_null(strstr((const char *)r.body, "\"offset\":0"));
    es_store_request_clear(&r);
    assert_string_equal(s->public_base,
                        "https://xyz.supabase.co/storage/v1/object/public/streams/");
    s->ops->destroy(s);

    /* The URL may already carry the API path. */
    struct es_supabase_storage cfg = {
        .url = "http://127.0.0.1:5000/storage/v1", .key = KEY, .bucket = "b"};
    assert_int_equal(es_supabase_store_create(&cfg, &s), ES_OK);
    assert_string_equal(s->public_base, "http://127.0.0.1:5000/storage/v1/object/public/b/");
    s->ops->destroy(s);
}

static void on_name(void *opaque, const char *name)
{
    char *out = opaque;
    strcat(out, name);
    strcat(out, ";");
}

static void test_supabase_list_skips_folders_and_pages_by_offset(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    const char *body = "[{\"name\":\"old\",\"id\":null,\"metadata\":null},"
                       "{\"name\":\"segment_001.ts\",\"id\":\"a\",\"metadata\":{\"size\":3,"
                       "\"x\":[1,2,{\"name\":\"nested\",\"id\":\"z\"}]}},"
                       "{\"name\":\"stream.m3u8\",\"id\":\"b\"}]";
    struct es_store_response resp = {
        .status = 200, .content_type = "application/json", .body = body, .body_size = strlen(body)};
    char names[256] = "", cursor[32] = "";
    assert_true(
        s->ops->parse_list(s, &resp, "location_1/cam/", on_name, names, cursor, sizeof(cursor)));
    assert_string_equal(names, "segment_001.ts;stream.m3u8;");
    assert_string_equal(cursor, "");
    struct es_store_response bad = {.status = 200, .body = "{}", .body_size = 2};
    assert_false(s->ops->parse_list(s, &bad, "p/", on_name, names, cursor, sizeof(cursor)));
    s->ops->destroy(s);
}

/* ---- Supabase verdicts ---- */

struct verdict_case {
    enum es_store_op op;
    long status;
    const char *content_type;
    const char *body;
    bool retried;
    enum es_store_verdict want;
    const char *code;
};

static void check_cases(struct es_store *s, const struct verdict_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct verdict_case *c = &cases[i];
        struct es_store_response r = {.status = c->status,
                                      .content_type = c->content_type,
                                      .body = c->body,
                                      .body_size = strlen(c->body)};
        struct es_store_result res;
        s->ops->classify(s, c->op, &r, c->retried, &res);
        if (res.verdict != c->want || (c->code && strcmp(res.code, c->code) != 0))
            fail_msg("case %zu (HTTP %ld %.60s): got %s/%s (%s), want %s/%s", i, c->status, c->body,
                     es_store_verdict_name(res.verdict), res.code, res.reason,
                     es_store_verdict_name(c->want), c->code ? c->code : "*");
        assert_null(strstr(res.reason, KEY));
    }
}

#define JSON "application/json; charset=utf-8"
#define ENV(status, code, msg)                                                                     \
    "{\"statusCode\":\"" status "\",\"error\":\"e\",\"code\":\"" code "\",\"message\":\"" msg "\"" \
                                                                                              "}"

static void test_supabase_judges_status_and_envelope(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    const struct verdict_case cases[] = {
        {ES_STORE_PUT_SEGMENT, 200, JSON, "{\"Key\":\"streams/a\",\"Id\":\"1\"}", false,
         ES_STORE_OK, "ok"},
        /* A 200 that is not the API (captive portal, misrouted proxy). */
        {ES_STORE_PUT_SEGMENT, 200, "text/html", "<html>hi</html>", false, ES_STORE_TRANSIENT,
         "not_json"},
        /* The envelope: HTTP 400, the real class in the body. */
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("404", "NoSuchBucket", "Bucket not found"), false,
         ES_STORE_PERMANENT_STORE, "NoSuchBucket"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("403", "AccessDenied", "Invalid Compact JWS"), false,
         ES_STORE_PERMANENT_STORE, "AccessDenied"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("415", "InvalidMimeType", "mime type x"), false,
         ES_STORE_PERMANENT_OBJECT, "InvalidMimeType"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("413", "EntityTooLarge", "too big"), false,
         ES_STORE_PERMANENT_OBJECT, "EntityTooLarge"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("400", "InvalidKey", "Invalid key: x"), false,
         ES_STORE_PERMANENT_OBJECT, "InvalidKey"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("503", "LockTimeout", "acquiring lock timeout"),
         false, ES_STORE_TRANSIENT, "LockTimeout"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("503", "DatabaseReadOnly", "ro"), false,
         ES_STORE_TRANSIENT, "DatabaseReadOnly"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("423", "ResourceLocked", "locked"), false,
         ES_STORE_TRANSIENT, "ResourceLocked"},
        /* statusCode may come as a number. */
        {ES_STORE_PUT_SEGMENT, 400, JSON,
         "{\"statusCode\":404,\"code\":\"NoSuchBucket\",\"message\":\"m\"}", false,
         ES_STORE_PERMANENT_STORE, "NoSuchBucket"},
        /* KeyAlreadyExists: a name collision the first time, our own lost answer on a retry. */
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("409", "KeyAlreadyExists", "exists"), false,
         ES_STORE_PERMANENT_OBJECT, "KeyAlreadyExists"},
        {ES_STORE_PUT_SEGMENT, 400, JSON, ENV("409", "KeyAlreadyExists", "exists"), true,
         ES_STORE_OK, "KeyAlreadyExists"},
        /* Real statuses. */
        {ES_STORE_PUT_SEGMENT, 429, JSON, ENV("429", "SlowDown", "Too many connections"), false,
         ES_STORE_TRANSIENT, "SlowDown"},
        {ES_STORE_PUT_SEGMENT, 544, JSON, ENV("544", "DatabaseTimeout", "timeout"), false,
         ES_STORE_TRANSIENT, "DatabaseTimeout"},
        {ES_STORE_PUT_SEGMENT, 500, JSON, ENV("500", "InternalError", "oops"), false,
         ES_STORE_TRANSIENT, "InternalError"},
        {ES_STORE_PUT_SEGMENT, 503, "text/plain", "", false, ES_STORE_TRANSIENT, "http_503"},
        {ES_STORE_PUT_SEGMENT, 403, JSON, ENV("403", "AccessDenied", "Invalid role"), false,
         ES_STORE_PERMANENT_STORE, "AccessDenied"},
        {ES_STORE_PUT_SEGMENT, 401, JSON, "{\"message\":\"Invalid API key\"}", false,
         ES_STORE_PERMANENT_STORE, "Unauthorized"},
        {ES_STORE_PUT_SEGMENT, 404, JSON, "{\"message\":\"no Route matched with those values\"}",
         false, ES_STORE_PERMANENT_STORE, "http_404"},
        /* Cloudflare's pages: a 403 block slows down a lot, 502/504 retry normally. */
        {ES_STORE_PUT_SEGMENT, 403, "text/html; charset=UTF-8",
         "<!DOCTYPE html>\n<title>Attention Required! | Cloudflare</title>", false,
         ES_STORE_TRANSIENT_SLOW, "cdn_block"},
        {ES_STORE_PUT_PLAYLIST, 502, "text/html",
         "<html>\r\n<head><title>502 Bad Gateway</title></head>", false, ES_STORE_TRANSIENT,
         "cdn_html"},
        {ES_STORE_PUT_PLAYLIST, 504, NULL, "<html><head><title>504</title></head></html>", false,
         ES_STORE_TRANSIENT, "cdn_html"},
        /* Reads and deletes: a missing object is no error. */
        {ES_STORE_GET, 400, JSON, ENV("404", "NoSuchKey", "Object not found"), false,
         ES_STORE_ABSENT, "NoSuchKey"},
        {ES_STORE_GET, 200, "application/vnd.apple.mpegurl", "#EXTM3U\n", false, ES_STORE_OK, "ok"},
        {ES_STORE_DELETE, 200, JSON, "[]", false, ES_STORE_OK, "ok"},
        {ES_STORE_DELETE, 400, JSON, ENV("404", "NoSuchKey", "gone"), false, ES_STORE_OK,
         "NoSuchKey"},
    };
    check_cases(s, cases, sizeof(cases) / sizeof(cases[0]));
    s->ops->destroy(s);
}

/* ---- S3 ---- */

static struct es_store *s3(const char *endpoint, enum es_s3_url_style style, const char *token)
{
    struct es_s3_storage cfg = {0};
    cfg.endpoint = (char *)endpoint;
    cfg.region = "us-east-1";
    cfg.bucket = "examplebucket";
    cfg.url_style = style;
    cfg.access_key_id = "AKIAIOSFODNN7EXAMPLE";
    cfg.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    cfg.session_token = (char *)token;
    struct es_store *s = NULL;
    assert_int_equal(es_s3_store_create(&cfg, &s), ES_OK);
    es_s3_store_set_clock(s, INT64_C(1369353600) * 1000000); /* 20130524T000000Z */
    return s;
}

static void test_s3_put_is_signed_for_the_url_it_sends(void **state)
{
    (void)state;
    struct es_store *s = s3(NULL, ES_S3_URL_AUTO, NULL); /* AWS: virtual-host style */
    struct es_store_request r;
    const char *body = "Welcome to Amazon S3.";
    s->ops->put(s, "test$file.text", (const uint8_t *)body, strlen(body), "video/mp2t", "no-cache",
                false, &r);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.url, "https://examplebucket.s3.us-east-1.amazonaws.com/test%24file.text");
    assert_true(has_header(r.headers, "Host: examplebucket.s3.us-east-1.amazonaws.com"));
    assert_true(has_header(r.headers, "x-amz-date: 20130524T000000Z"));
    assert_true(has_header(r.headers,
                           "x-amz-content-sha256: "
                           "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"));
    assert_true(has_header(r.headers, "Content-Type: video/mp2t"));
    assert_true(has_header(r.headers, "Cache-Control: no-cache"));
    /* The signature is the one es_sigv4 computes over exactly these parts. */
    const struct es_sigv4_header headers[] = {
        {"host", "examplebucket.s3.us-east-1.amazonaws.com"},
        {"x-amz-content-sha256",
         "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
        {"x-amz-date", "20130524T000000Z"},
    };
    struct es_sigv4_request sr = {
        .method = "PUT",
        .canonical_uri = "/test%24file.text",
        .canonical_query = "",
        .headers = headers,
        .header_count = 3,
        .payload_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        .amz_date = "20130524T000000Z",
        .region = "us-east-1",
        .service = "s3",
        .access_key_id = "AKIAIOSFODNN7EXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    char want[512];
    assert_true(es_sigv4_authorization(&sr, want, sizeof(want)));
    assert_string_equal(header_value(r.headers, "Authorization"), want);
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

static void test_s3_path_style_keeps_the_endpoint_path_and_port(void **state)
{
    (void)state;
    struct es_store *s = s3("https://ref.supabase.co:8443/storage/v1/s3", ES_S3_URL_AUTO, "tok");
    struct es_store_request r;
    s->ops->get(s, "location_1/cam/stream.m3u8", &r);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.url, "https://ref.supabase.co:8443/storage/v1/s3/examplebucket/"
                               "location_1/cam/stream.m3u8");
    assert_true(has_header(r.headers, "Host: ref.supabase.co:8443"));
    assert_true(has_header(r.headers, "x-amz-security-token: tok"));
    assert_non_null(strstr(header_value(r.headers, "Authorization"),
                           "SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                           "x-amz-security-token,"));
    es_store_request_clear(&r);
    s->ops->list(s, "location_1/cam/", "next/token=", &r);
    assert_string_equal(r.url, "https://ref.supabase.co:8443/storage/v1/s3/examplebucket?"
                               "continuation-token=next%2Ftoken%3D&list-type=2&max-keys=1000&"
                               "prefix=location_1%2Fcam%2F");
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

/* STS and instance-role session tokens are often well over 1000 characters:
 * the header sent must carry the whole token, and the signature must be the
 * one computed over that same whole token. */
static void test_s3_signs_and_sends_a_1500_character_session_token_whole(void **state)
{
    (void)state;
    char token[1501];
    for (size_t i = 0; i < sizeof(token) - 1; i++)
        token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="[i % 65];
    token[sizeof(token) - 1] = '\0';
    struct es_store *s = s3("http://127.0.0.1:9000", ES_S3_URL_PATH, token);
    struct es_store_request r;
    const char *body = "TS";
    s->ops->put(s, "loc/cam/segment_001.ts", (const uint8_t *)body, 2, "video/mp2t", "no-cache",
                false, &r);
    const char *sent = header_value(r.headers, "x-amz-security-token");
    assert_non_null(sent);
    assert_int_equal(strlen(sent), 1500);
    assert_string_equal(sent, token);

    char payload_hash[ES_SIGV4_HASH_HEX];
    es_sigv4_sha256_hex(body, 2, payload_hash);
    const struct es_sigv4_header headers[] = {
        {"host", "127.0.0.1:9000"},
        {"x-amz-content-sha256", payload_hash},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-security-token", token},
    };
    struct es_sigv4_request sr = {
        .method = "PUT",
        .canonical_uri = "/examplebucket/loc/cam/segment_001.ts",
        .canonical_query = "",
        .headers = headers,
        .header_count = 4,
        .payload_hash = payload_hash,
        .amz_date = "20130524T000000Z",
        .region = "us-east-1",
        .service = "s3",
        .access_key_id = "AKIAIOSFODNN7EXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    };
    char want[512];
    assert_true(es_sigv4_authorization(&sr, want, sizeof(want)));
    assert_string_equal(header_value(r.headers, "Authorization"), want);
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

static void test_s3_batch_delete_posts_xml_with_content_md5(void **state)
{
    (void)state;
    struct es_store *s = s3("http://127.0.0.1:9000", ES_S3_URL_PATH, NULL);
    const char *names[] = {"a/segment_001.ts", "a/x&y.ts"};
    struct es_store_request r;
    s->ops->delete_objects(s, names, 2, &r);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.url, "http://127.0.0.1:9000/examplebucket?delete=");
    char body[512];
    snprintf(body, sizeof(body), "%.*s", (int)r.body_size, (const char *)r.body);
    assert_non_null(strstr(body, "<Quiet>true</Quiet><Object><Key>a/segment_001.ts</Key></Object>"
                                 "<Object><Key>a/x&amp;y.ts</Key></Object></Delete>"));
    const char *md5 = header_value(r.headers, "Content-MD5");
    assert_non_null(md5);
    assert_int_equal(strlen(md5), 24);
    assert_non_null(
        strstr(header_value(r.headers, "Authorization"), "SignedHeaders=content-md5;host;"));
    es_store_request_clear(&r);
    s->ops->destroy(s);
}

static void test_s3_list_names_are_relative_and_paged(void **state)
{
    (void)state;
    struct es_store *s = s3("http://127.0.0.1:9000", ES_S3_URL_PATH, NULL);
    const char *body =
        "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/segment_001.ts</Key></Contents><Contents><Key>p/sub/x.ts</Key>"
        "</Contents><Contents><Key>p/stream.m3u8</Key></Contents>"
        "<NextContinuationToken>abc&amp;d</NextContinuationToken></ListBucketResult>";
    struct es_store_response resp = {.status = 200, .body = body, .body_size = strlen(body)};
    char names[256] = "", cursor[64] = "";
    assert_true(s->ops->parse_list(s, &resp, "p/", on_name, names, cursor, sizeof(cursor)));
    assert_string_equal(names, "segment_001.ts;stream.m3u8;");
    assert_string_equal(cursor, "abc&d");
    s->ops->destroy(s);
}

#define S3ERR(code)                                                                                \
    "<?xml version=\"1.0\"?><Error><Code>" code "</Code><Message>m</Message></Error>"

static void test_s3_judges_real_statuses_and_xml_codes(void **state)
{
    (void)state;
    struct es_store *s = s3("http://127.0.0.1:9000", ES_S3_URL_PATH, NULL);
    const struct verdict_case cases[] = {
        {ES_STORE_PUT_SEGMENT, 200, NULL, "", false, ES_STORE_OK, "ok"},
        {ES_STORE_PUT_SEGMENT, 403, "application/xml", S3ERR("SignatureDoesNotMatch"), false,
         ES_STORE_PERMANENT_STORE, "SignatureDoesNotMatch"},
        {ES_STORE_PUT_SEGMENT, 403, "application/xml", S3ERR("InvalidAccessKeyId"), false,
         ES_STORE_PERMANENT_STORE, "InvalidAccessKeyId"},
        {ES_STORE_PUT_SEGMENT, 404, "application/xml", S3ERR("NoSuchBucket"), false,
         ES_STORE_PERMANENT_STORE, "NoSuchBucket"},
        {ES_STORE_PUT_SEGMENT, 400, "application/xml", S3ERR("EntityTooLarge"), false,
         ES_STORE_PERMANENT_OBJECT, "EntityTooLarge"},
        {ES_STORE_PUT_SEGMENT, 400, "application/xml", S3ERR("RequestTimeout"), false,
         ES_STORE_TRANSIENT, "RequestTimeout"},
        {ES_STORE_PUT_SEGMENT, 503, "application/xml", S3ERR("SlowDown"), false, ES_STORE_TRANSIENT,
         "SlowDown"},
        {ES_STORE_PUT_SEGMENT, 500, "application/xml", S3ERR("InternalError"), false,
         ES_STORE_TRANSIENT, "InternalError"},
        {ES_STORE_PUT_SEGMENT, 301, "application/xml", S3ERR("PermanentRedirect"), false,
         ES_STORE_PERMANENT_STORE, "PermanentRedirect"},
        {ES_STORE_PUT_SEGMENT, 403, "text/html", "<html><title>blocked</title></html>", false,
         ES_STORE_TRANSIENT_SLOW, "cdn_block"},
        {ES_STORE_GET, 404, "application/xml", S3ERR("NoSuchKey"), false, ES_STORE_ABSENT,
         "NoSuchKey"},
        {ES_STORE_DELETE, 200, "application/xml",
         "<DeleteResult><Error><Key>k</Key><Code>InternalError</Code></Error></DeleteResult>",
         false, ES_STORE_TRANSIENT, "InternalError"},
        {ES_STORE_DELETE, 200, "application/xml", "<DeleteResult></DeleteResult>", false,
         ES_STORE_OK, "ok"},
    };
    check_cases(s, cases, sizeof(cases) / sizeof(cases[0]));
    s->ops->destroy(s);
}

static void test_store_scrub_removes_every_secret(void **state)
{
    (void)state;
    struct es_store *s = supabase();
    char text[256];
    snprintf(text, sizeof(text), "bad key " KEY " and again " KEY "!");
    es_store_scrub(s, text);
    assert_string_equal(text, "bad key *** and again ***!");
    s->ops->destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_supabase_segment_upload_is_a_raw_post_without_upsert),
        cmocka_unit_test(test_supabase_playlist_upload_upserts_with_exactly_true),
        cmocka_unit_test(test_supabase_delete_sends_exact_names_in_one_json_body),
        cmocka_unit_test(test_supabase_recovery_reads_the_origin_not_the_public_url),
        cmocka_unit_test(test_supabase_list_skips_folders_and_pages_by_offset),
        cmocka_unit_test(test_supabase_judges_status_and_envelope),
        cmocka_unit_test(test_s3_put_is_signed_for_the_url_it_sends),
        cmocka_unit_test(test_s3_path_style_keeps_the_endpoint_path_and_port),
        cmocka_unit_test(test_s3_signs_and_sends_a_1500_character_session_token_whole),
        cmocka_unit_test(test_s3_batch_delete_posts_xml_with_content_md5),
        cmocka_unit_test(test_s3_list_names_are_relative_and_paged),
        cmocka_unit_test(test_s3_judges_real_statuses_and_xml_codes),
        cmocka_unit_test(test_store_scrub_removes_every_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
