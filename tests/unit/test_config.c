/* Unit tests for src/config: both file forms, defaults, profiles and precedence,
 * every validation rule with its exact position, hostile input, the ffmpeg
 * command, and docs/configuration.md against the option table. The corpus in
 * tests/configs/ is checked file by file: a bad file's first line may say
 * "# expect: LINE:COL KEY MESSAGE-PART" (KEY "-" for none). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config/config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIGS_DIR ES_TEST_DATA_DIR "/configs"

/* ---- Helpers ---- */

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + used, 1, cap - used - 1, f)) > 0) {
        used += n;
        if (cap - used < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[used] = '\0';
    if (len)
        *len = used;
    return buf;
}

static enum es_err load(const char *yaml, struct es_config *config, struct es_config_error *err)
{
    return es_config_load_string("test.yaml", yaml, strlen(yaml), config, err);
}

/* Loads `yaml`, which must fail with ES_ERR_CONFIG at line:column for `key`,
 * with `part` somewhere in the message. */
static void expect_error_at(const char *yaml, unsigned line, unsigned column, const char *key,
                            const char *part)
{
    struct es_config config;
    struct es_config_error err;
    enum es_err e = load(yaml, &config, &err);
    if (e != ES_ERR_CONFIG || err.line != line || err.column != column ||
        strcmp(err.key, key) != 0 || !strstr(err.message, part)) {
        char text[1024];
        es_config_error_format(&err, text, sizeof(text));
        fail_msg("for:\n%.300s\nexpected %u:%u key '%s' containing \"%s\"\ngot status %d: %s", yaml,
                 line, column, key, part, (int)e, text);
    }
    assert_int_equal(config.camera_count, 0); /* freed and zeroed on failure */
    assert_null(config.cameras);
}

static void load_ok(const char *yaml, struct es_config *config)
{
    struct es_config_error err;
    enum es_err e = load(yaml, config, &err);
    if (e != ES_OK) {
        char text[1024];
        es_config_error_format(&err, text, sizeof(text));
        fail_msg("for:\n%.300s\nexpected success, got %s", yaml, text);
    }
}

/* ---- The two forms and defaults ---- */

static const char reference_yaml[] =
    "- id: \"cam_floor\"\n"
    "  name: \"Floor Camera\"\n"
    "  rtsp_url: \"rtsp://localhost:8554/cam1\"  # Or IP camera URL\n"
    "  use_case: \"live_stream\"\n"
    "  enabled: true\n"
    "  \n"
    "  settings:\n"
    "    target_width: 854             # Output width (480p = 854x480)\n"
    "    target_fps: 15                # Frames per second\n"
    "    segment_duration: 2           # Seconds per HLS segment\n"
    "    segments_to_keep: 5           # Rolling window size\n";

static void test_config_accepts_reference_cameras_yaml_unchanged(void **state)
{
    (void)state;
    struct es_config config;
    load_ok(reference_yaml, &config);
    assert_int_equal(config.camera_count, 1);
    const struct es_camera_config *c = &config.cameras[0];
    assert_string_equal(c->id, "cam_floor");
    assert_string_equal(c->name, "Floor Camera");
    assert_string_equal(c->rtsp_url, "rtsp://localhost:8554/cam1");
    assert_string_equal(c->use_case, "live_stream");
    assert_true(c->enabled);
    assert_int_equal(c->target_width, 854);
    assert_int_equal(c->target_fps, 15);
    assert_true(c->segment_duration == 2.0);
    assert_int_equal(c->segments_to_keep, 5);
    assert_string_equal(config.path, "test.yaml");
    es_config_free(&config);

    /* The committed copy is the same text, and loads from a file too. */
    size_t len;
    char *text = read_whole(CONFIGS_DIR "/good/reference_cameras.yaml", &len);
    assert_non_null(text);
    assert_string_equal(text, reference_yaml);
    free(text);
    struct es_config_error err;
    assert_int_equal(es_config_load(CONFIGS_DIR "/good/reference_cameras.yaml", &config, &err),
                     ES_OK);
    assert_string_equal(config.path, CONFIGS_DIR "/good/reference_cameras.yaml");
    es_config_free(&config);
}

static void test_config_example_file_loads_and_shows_profile(void **state)
{
    (void)state;
    struct es_config config;
    struct es_config_error err;
    const char *path = ES_TEST_DATA_DIR "/../cameras.example.yaml";
    assert_int_equal(es_config_load(path, &config, &err), ES_OK);
    assert_int_equal(config.camera_count, 1);
    assert_string_equal(config.cameras[0].id, "cam_floor");
    es_config_free(&config);
    char *text = read_whole(path, NULL);
    assert_non_null(strstr(text, "# Or IP camera URL"));
    assert_non_null(strstr(text, "# profile:"));
    free(text);
}

static void test_config_applies_reference_defaults_when_settings_are_absent(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("- id: cam_a\n  rtsp_url: test://\n", &config);
    const struct es_camera_config *c = &config.cameras[0];
    assert_string_equal(c->name, "cam_a"); /* name defaults to id */
    assert_string_equal(c->use_case, "live_stream");
    assert_string_equal(c->location, "location_1");
    assert_null(c->profile);
    assert_true(c->enabled);
    /* The reference design's LiveStreamSettings. */
    assert_int_equal(c->target_width, 854);
    assert_int_equal(c->target_fps, 15);
    assert_true(c->segment_duration == 2.0);
    assert_int_equal(c->segments_to_keep, 5);
    assert_int_equal(c->transcode, ES_TRANSCODE_X264);
    assert_int_equal(c->audio, ES_AUDIO_AUTO);
    assert_int_equal(c->audio_bitrate, 128000);
    assert_int_equal(c->connect_timeout_ms, 5000);
    assert_int_equal(c->read_timeout_ms, 5000);
    assert_int_equal(c->reconnect_min_ms, 100);
    assert_int_equal(c->reconnect_max_ms, 1000);
    assert_true(c->delete_grace < 0); /* auto */
    assert_true(config.local.enabled);
    assert_string_equal(config.local.root, "streams");
    assert_null(config.log_level); /* NULL = info, so a command-line level can win */
    es_config_free(&config);
}

static void test_config_accepts_mapping_form_with_defaults_storage_and_log_level(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("log_level: warn\n"
            "storage:\n"
            "  - backend: local\n"
            "    root: /srv/streams\n"
            "defaults:\n"
            "  target_fps: 10\n"
            "  transcode: copy\n"
            "cameras:\n"
            "  - id: cam_a\n"
            "    rtsp_url: test://\n"
            "    location: shop_7\n"
            "    enabled: false\n",
            &config);
    assert_string_equal(config.log_level, "warn");
    assert_true(config.local.enabled);
    assert_string_equal(config.local.root, "/srv/streams");
    assert_int_equal(config.camera_count, 1);
    assert_int_equal(config.cameras[0].target_fps, 10);
    assert_int_equal(config.cameras[0].transcode, ES_TRANSCODE_COPY);
    assert_string_equal(config.cameras[0].location, "shop_7");
    assert_false(config.cameras[0].enabled);
    es_config_free(&config);
}

static void test_config_defaults_apply_to_every_camera_unless_the_camera_sets_them(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("defaults:\n"
            "  target_fps: 10\n"
            "  audio: off\n"
            "  delete_grace: 60\n"
            "cameras:\n"
            "  - id: a\n"
            "    rtsp_url: test://\n"
            "  - id: b\n"
            "    rtsp_url: test://\n"
            "    settings:\n"
            "      target_fps: 25\n"
            "      delete_grace: auto\n",
            &config);
    assert_int_equal(config.cameras[0].target_fps, 10);
    assert_int_equal(config.cameras[0].audio, ES_AUDIO_OFF);
    assert_true(config.cameras[0].delete_grace == 60.0);
    assert_int_equal(config.cameras[1].target_fps, 25);
    assert_int_equal(config.cameras[1].audio, ES_AUDIO_OFF);
    assert_true(config.cameras[1].delete_grace < 0);
    es_config_free(&config);

    /* defaults: may come after cameras:. */
    load_ok("cameras:\n  - {id: a, rtsp_url: \"test://\"}\ndefaults:\n  target_fps: 7\n", &config);
    assert_int_equal(config.cameras[0].target_fps, 7);
    es_config_free(&config);
}

static void test_config_treats_empty_sections_as_absent(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("defaults:\nstorage:\ncameras:\n  - id: a\n    rtsp_url: test://\n    settings:\n",
            &config);
    assert_int_equal(config.cameras[0].target_fps, 15);
    assert_true(config.local.enabled);
    es_config_free(&config);
}

static void test_config_empty_storage_list_disables_the_local_backend(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("storage: []\ncameras:\n  - id: a\n    rtsp_url: test://\n", &config);
    assert_false(config.local.enabled);
    es_config_free(&config);
    load_ok("storage:\n  - backend: local\ncameras:\n  - id: a\n    rtsp_url: test://\n", &config);
    assert_true(config.local.enabled);
    assert_string_equal(config.local.root, "streams");
    es_config_free(&config);
}

static void test_config_accepts_every_source_url_kind(void **state)
{
    (void)state;
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load(CONFIGS_DIR "/good/all_source_kinds.yaml", &config, &err),
                     ES_OK);
    assert_int_equal(config.camera_count, 7);
    es_config_free(&config);

    struct es_config_source s;
    char why[256];
    assert_true(es_config_source_parse("rtsp://u:p@10.0.0.5:554/live", &s, why, sizeof(why)));
    assert_int_equal(s.kind, ES_CONFIG_SOURCE_RTSP);
    assert_true(es_config_source_parse("RTSPS://cam.local/x", &s, why, sizeof(why)));
    assert_int_equal(s.kind, ES_CONFIG_SOURCE_RTSP);
    assert_true(es_config_source_parse("v4l2:///dev/video2", &s, why, sizeof(why)));
    assert_int_equal(s.kind, ES_CONFIG_SOURCE_V4L2);
    assert_string_equal(s.path, "/dev/video2");
    assert_true(es_config_source_parse("file:///srv/a.mp4", &s, why, sizeof(why)));
    assert_int_equal(s.kind, ES_CONFIG_SOURCE_FILE);
    assert_string_equal(s.path, "/srv/a.mp4");
    assert_true(es_config_source_parse("file:media/a.mp4", &s, why, sizeof(why)));
    assert_string_equal(s.path, "media/a.mp4");
    assert_true(es_config_source_parse("test://", &s, why, sizeof(why)));
    assert_int_equal(s.kind, ES_CONFIG_SOURCE_TEST);
    assert_int_equal(s.width, 1280);
    assert_int_equal(s.height, 720);
    assert_int_equal(s.fps, 25);
    assert_true(
        es_config_source_parse("test://?fps=30&width=640&height=360", &s, why, sizeof(why)));
    assert_int_equal(s.width, 640);
    assert_int_equal(s.height, 360);
    assert_int_equal(s.fps, 30);
}

static void test_config_source_parse_rejects_malformed_urls(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "http://cam/x",
        "rtsp://",
        "rtsp:///live",
        "rtsp://user:pw@/live",
        "rtsp://cam:0/live",
        "rtsp://cam:65536/live",
        "rtsp://cam:12ab/live",
        "rtsp://[::1/live",
        "rtsp://cam/with space",
        "v4l2://video0",
        "v4l2:///dev/",
        "file:",
        "file://",
        "file://host/x.mp4",
        "test://host",
        "test://?width=1",
        "test://?fps=0",
        "test://?fps=abc",
        "test://?size=10",
        "cam.local/live",
        "rtsp:/cam/live",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_config_source s;
        char why[256] = "";
        if (es_config_source_parse(bad[i], &s, why, sizeof(why)))
            fail_msg("accepted '%s'", bad[i]);
        assert_true(why[0] != '\0');
    }
}

static void test_config_accepts_yaml_1_1_booleans_like_pyyaml(void **state)
{
    (void)state;
    static const char *const no[] = {"false", "False", "no", "NO", "off", "Off"};
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "- id: a\n  rtsp_url: test://\n  enabled: %s\n", no[i]);
        struct es_config config;
        load_ok(yaml, &config);
        assert_false(config.cameras[0].enabled);
        es_config_free(&config);
    }
    expect_error_at("- id: a\n  rtsp_url: test://\n  enabled: \"true\"\n", 3, 12, "[0].enabled",
                    "quoted string");
}

static void test_config_accepts_flow_style_and_crlf_line_endings(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("[{\"id\": \"a\", \"rtsp_url\": \"test://\", \"settings\": {\"target_fps\": 30}}]",
            &config);
    assert_int_equal(config.cameras[0].target_fps, 30);
    es_config_free(&config);
    load_ok("- id: a\r\n  rtsp_url: test://\r\n  settings:\r\n    target_fps: 12\r\n", &config);
    assert_int_equal(config.cameras[0].target_fps, 12);
    es_config_free(&config);
    expect_error_at("- id: a\r\n  rtsp_url: test://\r\n  settings:\r\n    target_fps: 0\r\n", 4, 17,
                    "[0].settings.target_fps", "from 1 to 120");
}

static void test_config_find_camera_returns_the_camera_by_id(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("- {id: a, rtsp_url: \"test://\"}\n- {id: b, rtsp_url: \"test://\"}\n", &config);
    assert_ptr_equal(es_config_find_camera(&config, "b"), &config.cameras[1]);
    assert_null(es_config_find_camera(&config, "c"));
    assert_null(es_config_find_camera(&config, NULL));
    assert_null(es_config_find_camera(NULL, "a"));
    es_config_free(&config);
}

static void test_config_free_accepts_null_zeroed_and_freed_configs(void **state)
{
    (void)state;
    es_config_free(NULL);
    struct es_config config;
    memset(&config, 0, sizeof(config));
    es_config_free(&config);
    load_ok("- {id: a, rtsp_url: \"test://\"}\n", &config);
    es_config_free(&config);
    es_config_free(&config); /* zeroed by the first call */
}

/* ---- Profiles and precedence ---- */

static void test_profiles_match_the_reference_latency_table(void **state)
{
    (void)state;
    static const struct es_profile want[] = {
        {"ultra-low", 1.0, 6, 2, 4, 0.0}, {"low", 2.0, 5, 2, 4, 0.0},
        {"balanced", 4.0, 5, 3, 5, 0.0},  {"stable", 6.0, 5, 4, 6, 0.0},
        {"ll", 1.0, 6, 0, 0, 0.134},
    };
    const struct es_profile *all = es_profiles();
    size_t count = 0;
    while (all[count].name)
        count++;
    assert_int_equal(count, 5);
    for (size_t i = 0; i < 5; i++) {
        const struct es_profile *p = es_profile_find(want[i].name);
        assert_non_null(p);
        assert_ptr_equal(p, &all[i]);
        assert_true(p->segment_duration == want[i].segment_duration);
        assert_int_equal(p->segments_to_keep, want[i].segments_to_keep);
        assert_int_equal(p->player_sync_count, want[i].player_sync_count);
        assert_int_equal(p->player_max_latency_count, want[i].player_max_latency_count);
        assert_true(p->part_target == want[i].part_target);
    }
    assert_null(es_profile_find("Low"));
    assert_null(es_profile_find(""));
    assert_null(es_profile_find(NULL));
}

static void test_config_profile_sets_segment_duration_and_segments_to_keep(void **state)
{
    (void)state;
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load(CONFIGS_DIR "/good/profiles.yaml", &config, &err), ES_OK);
    const struct es_camera_config *c = es_config_find_camera(&config, "ultra_low");
    assert_string_equal(c->profile, "ultra-low");
    assert_true(c->segment_duration == 1.0);
    assert_int_equal(c->segments_to_keep, 6);
    c = es_config_find_camera(&config, "balanced");
    assert_true(c->segment_duration == 4.0);
    assert_int_equal(c->segments_to_keep, 5);
    c = es_config_find_camera(&config, "ll");
    assert_true(c->segment_duration == 1.0);
    assert_int_equal(c->segments_to_keep, 6);
    /* Explicit keys beside the profile win. */
    c = es_config_find_camera(&config, "stable");
    assert_true(c->segment_duration == 6.0);
    assert_int_equal(c->segments_to_keep, 10);
    es_config_free(&config);
}

static void test_config_explicit_settings_beside_a_profile_win_in_any_order(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("- id: a\n  rtsp_url: test://\n  settings:\n"
            "    segment_duration: 3\n    profile: stable\n",
            &config);
    assert_true(config.cameras[0].segment_duration == 3.0);
    assert_int_equal(config.cameras[0].segments_to_keep, 5);
    es_config_free(&config);
}

/* The documented order, lowest first: built-in default, defaults: profile,
 * defaults: explicit, camera profile, camera explicit. */
static void test_config_precedence_follows_the_documented_order(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("defaults:\n"
            "  profile: stable\n" /* 6 s, keep 5 */
            "  segments_to_keep: 9\n"
            "cameras:\n"
            "  - id: defaults_only\n"
            "    rtsp_url: test://\n"
            "  - id: camera_profile\n"
            "    rtsp_url: test://\n"
            "    settings: {profile: low}\n"
            "  - id: camera_explicit\n"
            "    rtsp_url: test://\n"
            "    settings: {profile: low, segments_to_keep: 12}\n"
            "  - id: camera_explicit_only\n"
            "    rtsp_url: test://\n"
            "    settings: {segment_duration: 1.5}\n",
            &config);
    /* defaults explicit > defaults profile > built-in */
    const struct es_camera_config *c = es_config_find_camera(&config, "defaults_only");
    assert_string_equal(c->profile, "stable");
    assert_true(c->segment_duration == 6.0);
    assert_int_equal(c->segments_to_keep, 9);
    assert_int_equal(c->target_fps, 15);
    /* camera profile > defaults explicit */
    c = es_config_find_camera(&config, "camera_profile");
    assert_string_equal(c->profile, "low");
    assert_true(c->segment_duration == 2.0);
    assert_int_equal(c->segments_to_keep, 5);
    /* camera explicit > camera profile */
    c = es_config_find_camera(&config, "camera_explicit");
    assert_true(c->segment_duration == 2.0);
    assert_int_equal(c->segments_to_keep, 12);
    /* camera explicit > defaults explicit; the defaults' profile still applies */
    c = es_config_find_camera(&config, "camera_explicit_only");
    assert_string_equal(c->profile, "stable");
    assert_true(c->segment_duration == 1.5);
    assert_int_equal(c->segments_to_keep, 9);
    es_config_free(&config);
}

/* ---- Validation ---- */

static void test_config_rounds_odd_target_width_up_to_even(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("defaults: {target_width: 853}\n"
            "cameras:\n"
            "  - {id: a, rtsp_url: \"test://\"}\n"
            "  - {id: b, rtsp_url: \"test://\", settings: {target_width: 1279}}\n",
            &config);
    assert_int_equal(config.cameras[0].target_width, 854);
    assert_int_equal(config.cameras[1].target_width, 1280);
    es_config_free(&config);
}

struct range_case {
    const char *key;
    const char *min, *max, *below, *above;
};

static void test_config_range_limits_are_inclusive(void **state)
{
    (void)state;
    static const struct range_case cases[] = {
        {"target_fps", "1", "120", "0", "121"},
        {"target_width", "16", "7680", "15", "7681"},
        {"segment_duration", "0.5", "60", "0.49", "60.01"},
        {"segments_to_keep", "3", "1000", "2", "1001"},
        {"audio_bitrate", "16000", "512000", "15999", "512001"},
        {"connect_timeout_ms", "100", "600000", "99", "600001"},
        {"read_timeout_ms", "100", "600000", "99", "600001"},
        {"reconnect_max_ms", "100", "600000", "99", "600001"},
        {"delete_grace", "auto", "86400", "-1", "86401"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *values[] = {cases[i].min, cases[i].max, cases[i].below, cases[i].above};
        for (size_t v = 0; v < 4; v++) {
            char yaml[256], key[64];
            /* reconnect_min_ms must stay below the max being probed. */
            snprintf(yaml, sizeof(yaml),
                     "- id: a\n  rtsp_url: test://\n  settings:\n    %s: %s\n    "
                     "reconnect_min_ms: 100\n",
                     cases[i].key, values[v]);
            snprintf(key, sizeof(key), "[0].settings.%s", cases[i].key);
            if (v < 2) {
                struct es_config config;
                load_ok(yaml, &config);
                es_config_free(&config);
            } else {
                expect_error_at(yaml, 4, 7 + (unsigned)strlen(cases[i].key), key, "must be from");
            }
        }
    }
}

static void test_config_rejects_target_fps_zero_at_its_value(void **state)
{
    (void)state;
    expect_error_at("- id: cam_floor\n"
                    "  rtsp_url: test://\n"
                    "  settings:\n"
                    "    target_fps: 0\n",
                    4, 17, "[0].settings.target_fps", "must be from 1 to 120, got 0");
    expect_error_at("cameras:\n"
                    "  - id: cam_floor\n"
                    "    rtsp_url: test://\n"
                    "    settings:\n"
                    "      target_fps: 0\n",
                    5, 19, "cameras[0].settings.target_fps", "must be from 1 to 120, got 0");
}

static void test_config_segments_to_keep_error_cites_rfc_8216(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {segments_to_keep: 2}\n", 3, 32,
                    "[0].settings.segments_to_keep", "RFC 8216");
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {segments_to_keep: 2}\n", 3, 32,
                    "[0].settings.segments_to_keep", "three target durations");
}

static void test_config_suggests_nearest_key_for_typo(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings:\n    target_fsp: 15\n", 4, 5,
                    "[0].settings.target_fsp", "did you mean 'target_fps'?");
    expect_error_at("- id: a\n  rtsp_ulr: test://\n", 2, 3, "[0].rtsp_ulr",
                    "did you mean 'rtsp_url'?");
    expect_error_at("- id: a\n  rtsp_url: test://\n  setings: {}\n", 3, 3, "[0].setings",
                    "did you mean 'settings'?");
    expect_error_at("camera:\n  - {id: a, rtsp_url: \"test://\"}\n", 1, 1, "camera",
                    "did you mean 'cameras'?");
    expect_error_at("defaults: {segment_duraton: 2}\ncameras: [{id: a, rtsp_url: \"test://\"}]\n",
                    1, 12, "defaults.segment_duraton", "did you mean 'segment_duration'?");
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {SEGMENTS_TO_KEEP: 5}\n", 3, 14,
                    "[0].settings.SEGMENTS_TO_KEEP", "did you mean 'segments_to_keep'?");
    /* A word contained in exactly one key. */
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {fps: 5}\n", 3, 14,
                    "[0].settings.fps", "did you mean 'target_fps'?");
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {profil: low}\n", 3, 14,
                    "[0].settings.profil", "did you mean 'profile'?");
    expect_error_at("storage: [{backend: local, roots: x}]\ncameras: [{id: a, rtsp_url: "
                    "\"test://\"}]\n",
                    1, 28, "storage[0].roots", "did you mean 'root'?");
    expect_error_at("log_levl: info\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 1, 1, "log_levl",
                    "did you mean 'log_level'?");
}

static void test_config_lists_valid_keys_when_nothing_is_close(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: test://\n  colour: blue\n", 3, 3, "[0].colour",
                    "(valid here: id, name, rtsp_url, use_case, enabled, location, settings)");
    /* Ambiguous containment gives no guess. */
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {timeout: 5}\n", 3, 14,
                    "[0].settings.timeout", "valid here: profile, target_width");
}

static void test_config_says_where_a_misplaced_key_belongs(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: test://\n  target_fps: 10\n", 3, 3, "[0].target_fps",
                    "put it under the camera's settings:");
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {location: x}\n", 3, 14,
                    "[0].settings.location", "is a camera key");
    expect_error_at("defaults: {enabled: false}\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 1,
                    12, "defaults.enabled", "cannot have a default");
    expect_error_at("target_fps: 10\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 1, 1,
                    "target_fps", "put it under defaults:");
    expect_error_at("id: a\nrtsp_url: test://\n", 1, 1, "id", "items of a list");
}

static void test_config_rejects_wrong_types_at_the_value_position(void **state)
{
    (void)state;
    const char *head = "- id: a\n  rtsp_url: test://\n  settings:\n";
    struct {
        const char *line;
        unsigned column;
        const char *key, *part;
    } cases[] = {
        {"    target_fps: fifteen\n", 17, "target_fps", "expected an integer from 1 to 120"},
        {"    target_fps: \"15\"\n", 17, "target_fps",
         "the quoted string '15' (write it without quotes)"},
        {"    target_fps: \"fifteen\"\n", 17, "target_fps", "the quoted string 'fifteen'"},
        {"    target_fps: 15.0\n", 17, "target_fps", "expected an integer"},
        {"    target_fps: 0x0f\n", 17, "target_fps", "expected an integer"},
        {"    target_fps: [15]\n", 17, "target_fps", "got a list"},
        {"    target_fps: {a: 1}\n", 17, "target_fps", "got a mapping"},
        {"    target_fps:\n", 16, "target_fps", "has no value"},
        {"    segment_duration: two\n", 23, "segment_duration", "a number of seconds"},
        {"    segment_duration: .inf\n", 23, "segment_duration", "a number of seconds"},
        {"    segment_duration: 1e400\n", 23, "segment_duration", "a number of seconds"},
        {"    transcode: [x264]\n", 16, "transcode", "one of: x264, copy"},
        {"    audio: maybe\n", 12, "audio", "unknown value 'maybe' (valid: auto, off)"},
        {"    profile: 2\n", 14, "profile", "unknown profile '2'"},
        {"    delete_grace: soon\n", 19, "delete_grace", "or auto"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char yaml[256], key[64];
        snprintf(yaml, sizeof(yaml), "%s%s", head, cases[i].line);
        snprintf(key, sizeof(key), "[0].settings.%s", cases[i].key);
        expect_error_at(yaml, 4, cases[i].column, key, cases[i].part);
    }
    expect_error_at("- id: [a]\n  rtsp_url: test://\n", 1, 7, "[0].id", "expected a string");
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: [1]\n", 3, 13, "[0].settings",
                    "expected a mapping");
    expect_error_at("cameras: {id: a}\n", 1, 10, "cameras", "expected a list");
    expect_error_at("storage: {backend: local}\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 1, 10,
                    "storage", "expected a list");
    expect_error_at("- a\n- b\n", 1, 3, "[0]", "expected a camera");
    expect_error_at("log_level: [info]\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 1, 12,
                    "log_level", "one of: error, warn, info, debug");
}

static void test_config_reports_missing_required_keys_at_the_camera_mapping_start(void **state)
{
    (void)state;
    expect_error_at("- name: x\n  rtsp_url: test://\n", 1, 3, "[0].id",
                    "missing required key 'id'");
    expect_error_at("- id: a\n  rtsp_url: test://\n-   id: b\n", 3, 5, "[1].rtsp_url",
                    "missing required key 'rtsp_url'");
    expect_error_at("cameras:\n  - {id: a}\n", 2, 5, "cameras[0].rtsp_url",
                    "missing required key 'rtsp_url'");
    expect_error_at("- {}\n", 1, 3, "[0].id", "missing required key 'id'");
    expect_error_at("defaults: {}\n", 1, 1, "cameras", "missing required key 'cameras'");
}

static void test_config_validates_id_location_and_string_lengths(void **state)
{
    (void)state;
    expect_error_at("- id: \"a b\"\n  rtsp_url: test://\n", 1, 7, "[0].id", "found ' '");
    expect_error_at("- id: a\n  rtsp_url: test://\n  location: a/b\n", 3, 13, "[0].location",
                    "found '/'");
    expect_error_at("- id: a\n  rtsp_url: test://\n  location: \"\"\n", 3, 13, "[0].location",
                    "must not be empty");
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "- id: %065d\n  rtsp_url: test://\n", 0);
    expect_error_at(yaml, 1, 7, "[0].id", "is too long (65 characters, at most 64)");
    snprintf(yaml, sizeof(yaml), "- id: %064d\n  rtsp_url: test://\n", 0);
    struct es_config config;
    load_ok(yaml, &config);
    es_config_free(&config);
    load_ok("- id: A-z_09\n  rtsp_url: test://\n  location: Shop-12_b\n", &config);
    es_config_free(&config);
}

static void test_config_rejects_duplicate_camera_ids_naming_both_lines(void **state)
{
    (void)state;
    expect_error_at("- id: cam\n  rtsp_url: test://\n- id: other\n  rtsp_url: test://\n"
                    "- id: cam\n  rtsp_url: test://\n",
                    5, 7, "[2].id", "duplicate camera id 'cam': first at line 1, again at line 5");
}

static void test_config_rejects_duplicate_keys_in_one_mapping(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings:\n    target_fps: 1\n"
                    "    target_fps: 2\n",
                    5, 5, "[0].settings.target_fps",
                    "duplicate key 'target_fps' (first at line 4, "
                    "column 5)");
    expect_error_at("cameras: []\ncameras: []\n", 1, 10, "cameras", "no cameras");
    expect_error_at(
        "log_level: info\nlog_level: debug\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 2, 1,
        "log_level", "duplicate key 'log_level'");
    expect_error_at("storage:\n  - backend: local\n    backend: local\n"
                    "cameras: [{id: a, rtsp_url: \"test://\"}]\n",
                    3, 5, "storage[0].backend", "duplicate key 'backend'");
}

static void test_config_rejects_unknown_profile_listing_valid_names(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {profile: fast}\n", 3, 23,
                    "[0].settings.profile",
                    "unknown profile 'fast' (valid: ultra-low, low, balanced, stable, ll)");
    expect_error_at("defaults: {profile: balance}\ncameras: [{id: a, rtsp_url: \"test://\"}]\n", 1,
                    21, "defaults.profile", "did you mean 'balanced'?");
}

static void test_config_rejects_reconnect_min_above_max_where_it_was_set(void **state)
{
    (void)state;
    expect_error_at(
        "- id: a\n  rtsp_url: test://\n  settings: {reconnect_min_ms: 2000}\n", 3, 32,
        "[0].settings.reconnect_min_ms",
        "reconnect_min_ms (2000) is greater than reconnect_max_ms (1000) for camera 'a'");
    expect_error_at(
        "defaults:\n  reconnect_min_ms: 500\n"
        "cameras: [{id: a, rtsp_url: \"test://\", settings: {reconnect_max_ms: 200}}]\n",
        2, 21, "defaults.reconnect_min_ms", "for camera 'a'");
    struct es_config config;
    load_ok("- id: a\n  rtsp_url: test://\n  settings: {reconnect_min_ms: 1000}\n", &config);
    es_config_free(&config);
}

static void test_config_rejects_delete_grace_shorter_than_rfc_8216_allows(void **state)
{
    (void)state;
    /* 2 s x (5 + 1) = 12 s is the least a removed segment must stay available. */
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {delete_grace: 11.9}\n", 3, 28,
                    "[0].settings.delete_grace", "= 12 s");
    expect_error_at("defaults: {delete_grace: 20}\n"
                    "cameras: [{id: a, rtsp_url: \"test://\", settings: {profile: stable}}]\n",
                    1, 26, "defaults.delete_grace", "6 s x (5 + 1) = 36 s");
    struct es_config config;
    load_ok("- id: a\n  rtsp_url: test://\n  settings: {delete_grace: 12}\n", &config);
    assert_true(config.cameras[0].delete_grace == 12.0);
    es_config_free(&config);
}

static void test_config_rejects_unknown_storage_backend_naming_valid_ones(void **state)
{
    (void)state;
    expect_error_at("cameras: [{id: a, rtsp_url: \"test://\"}]\nstorage:\n  - backend: gcs\n",
                    3, 14, "storage[0].backend", "unknown value 'gcs' (valid: local, supabase, s3)");
    expect_error_at("cameras: [{id: a, rtsp_url: \"test://\"}]\nstorage:\n  - root: x\n", 3, 5,
                    "storage[0].backend", "missing required key 'backend'");
    expect_error_at("cameras: [{id: a, rtsp_url: \"test://\"}]\nstorage:\n  - backend: local\n"
                    "  - backend: local\n",
                    4, 14, "storage[1].backend", "configured twice: first at line 3");
    expect_error_at("cameras: [{id: a, rtsp_url: \"test://\"}]\nstorage: [local]\n", 2, 11,
                    "storage[0]", "expected a storage backend");
}

static void test_config_rejects_bad_source_urls_at_the_url(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  rtsp_url: http://cam/x.mjpg\n", 2, 13, "[0].rtsp_url",
                    "unsupported scheme 'http:'");
    expect_error_at("- id: a\n  rtsp_url: \"test://?width=8\"\n", 2, 13, "[0].rtsp_url",
                    "width 16 to 7680");
    expect_error_at("- id: a\n  rtsp_url: \"\"\n", 2, 13, "[0].rtsp_url", "must not be empty");
}

static void test_config_redacts_passwords_in_error_messages(void **state)
{
    (void)state;
    static const char *const yamls[] = {
        "- id: a\n  rtsp_url: \"rtsp://admin:hunter2@cam:99999/x\"\n",
        "- id: a\n  rtsp_url: \"rtsp://admin:hunter2@/x\"\n",
        "- id: a\n  rtsp_url: test://\n  settings: {target_fps: \"rtsp://admin:hunter2@cam/x\"}\n",
        "- id: a\n  rtsp_url: test://\n  name: [rtsp://admin:hunter2@cam/x]\n",
        "- id: a\n  rtsp_url: test://\n  \"rtsp://admin:hunter2@cam/x\": 1\n",
        "rtsp://admin:hunter2@cam/x\n",
        ("- id: a\n  rtsp_url: \"rtsp://admin:hunter2@cam/x?token=hunter2\"\n- id: a\n"
         "  rtsp_url: \"rtsp://admin:hunter2@cam/x\"\n"),
    };
    for (size_t i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
        struct es_config config;
        struct es_config_error err;
        assert_int_equal(load(yamls[i], &config, &err), ES_ERR_CONFIG);
        char text[1024];
        es_config_error_format(&err, text, sizeof(text));
        if (strstr(text, "hunter2"))
            fail_msg("secret in: %s", text);
    }
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {target_fps: rtsp://u:pw@c/x}\n", 3,
                    26, "[0].settings.target_fps", "got 'rtsp://u:***@c/x'");
}

static void test_config_rejects_empty_and_comment_only_files(void **state)
{
    (void)state;
    expect_error_at("", 1, 1, "", "the file is empty");
    expect_error_at("\n\n   \n", 1, 1, "", "the file is empty");
    expect_error_at("# nothing\n# here\n", 1, 1, "", "the file is empty");
    expect_error_at("---\n", 2, 1, "", "the file is empty");
    expect_error_at("~\n", 1, 1, "", "the file is empty");
    expect_error_at("[]\n", 1, 1, "", "no cameras");
    expect_error_at("cameras:\n", 1, 9, "cameras", "no cameras");
}

static void test_config_rejects_scalars_at_top_level(void **state)
{
    (void)state;
    expect_error_at("42\n", 1, 1, "", "got the scalar '42'");
    expect_error_at("\"cameras\"\n", 1, 1, "", "got the scalar 'cameras'");
    expect_error_at("--- |\n  text\n", 1, 5, "", "got the scalar");
}

static void test_config_reports_yaml_syntax_errors_with_libyaml_position(void **state)
{
    (void)state;
    expect_error_at("- id: a\n  name: \"unterminated\n", 3, 1, "",
                    "found unexpected end of stream (while scanning a quoted scalar at line 2, "
                    "column 9)");
    expect_error_at("- id: a\n  name: a: b\n", 2, 10, "",
                    "mapping values are not allowed in this context");
    expect_error_at("[a, b\n", 2, 1, "", "did not find expected ',' or ']'");
    expect_error_at("- id: a\n - id: b\n", 2, 2, "", "invalid YAML");
    expect_error_at("{a: 1, b\n", 2, 1, "", "invalid YAML");
    expect_error_at("- &a [1]\n- *a\n", 2, 3, "", "aliases (*a) are not supported");
    expect_error_at("- !!python/object:os.system {}\n", 1, 3, "",
                    "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not supported");
    expect_error_at("- id: a\n---\n- id: b\n", 2, 1, "", "a second YAML document");
    expect_error_at("- id: \"a\\0b\"\n  rtsp_url: test://\n", 1, 7, "", "NUL character");
    expect_error_at("- ? {a: 1}\n  : b\n", 1, 5, "", "a mapping key must be a plain name");
}

static void test_config_accepts_explicit_core_tags(void **state)
{
    (void)state;
    struct es_config config;
    load_ok("- id: !!str 123\n  rtsp_url: !!str test://\n  settings: !!map {target_fps: !!int 9}\n",
            &config);
    assert_string_equal(config.cameras[0].id, "123");
    assert_int_equal(config.cameras[0].target_fps, 9);
    es_config_free(&config);
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings: {target_fps: !!str 9}\n", 3, 26,
                    "[0].settings.target_fps", "quoted string");
}

static void test_config_rejects_tabs_in_indentation(void **state)
{
    (void)state;
    expect_error_at("- id: a\n\trtsp_url: test://\n", 2, 1, "", "tab character in indentation");
    expect_error_at("- id: a\n  rtsp_url: test://\n  settings:\n  \t target_fps: 5\n", 4, 3, "",
                    "tab character in indentation");
    /* A tab elsewhere is fine. */
    struct es_config config;
    load_ok("- id: a\n  rtsp_url: test://\t# comment\n  name: \"a\tb\"\n", &config);
    assert_string_equal(config.cameras[0].name, "a\tb");
    es_config_free(&config);
}

static void test_config_rejects_binary_and_non_utf8_input(void **state)
{
    (void)state;
    static const char elf[] = "\x7f"
                              "ELF\x02\x01\x01";
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load_string("bin", elf, sizeof(elf), &config, &err), ES_ERR_CONFIG);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.message, "binary"));

    static const char nul[] = "- id: a\n  na\0me: x\n";
    assert_int_equal(es_config_load_string("nul", nul, sizeof(nul) - 1, &config, &err),
                     ES_ERR_CONFIG);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 5);
    assert_non_null(strstr(err.message, "control character 0x00"));

    expect_error_at("- id: a\n  name: caf\xe9\n", 2, 12, "", "invalid UTF-8 (byte 0xe9)");
    expect_error_at("- id: a\n  name: \xc0\xaf\n", 2, 9, "",
                    "invalid UTF-8 (byte 0xc0)");                                  /* overlong */
    expect_error_at("- id: a\n  name: \xed\xa0\x80\n", 2, 9, "", "invalid UTF-8"); /* surrogate */
    expect_error_at("- id: a\n  name: \xf4\x90\x80\x80\n", 2, 9, "", "invalid UTF-8");
    expect_error_at("- id: a\n  name: x\xe2\x82", 2, 10, "", "invalid UTF-8"); /* cut short */
    /* UTF-16 (with its BOM) is not UTF-8 either. */
    static const char utf16[] = "\xff\xfe-\0 \0i\0d\0";
    assert_int_equal(es_config_load_string("u16", utf16, sizeof(utf16) - 1, &config, &err),
                     ES_ERR_CONFIG);
    assert_true(err.line > 0);

    /* Every single byte value as a whole file, and runs of random bytes. */
    for (int b = 0; b < 256; b++) {
        char one = (char)b;
        enum es_err e = es_config_load_string("byte", &one, 1, &config, &err);
        assert_int_equal(e, ES_ERR_CONFIG);
        assert_true(err.message[0] != '\0');
    }
    srand(42);
    for (int run = 0; run < 200; run++) {
        char junk[257];
        size_t len = (size_t)(rand() % 256) + 1;
        for (size_t i = 0; i < len; i++)
            junk[i] = (char)(rand() & 0xff);
        enum es_err e = es_config_load_string("junk", junk, len, &config, &err);
        if (e == ES_OK) {
            es_config_free(&config);
            continue;
        }
        assert_int_equal(e, ES_ERR_CONFIG);
        assert_true(err.message[0] != '\0');
    }
}

static void test_config_rejects_alias_bombs_without_expanding_them(void **state)
{
    (void)state;
    size_t len;
    char *text = read_whole(CONFIGS_DIR "/bad/alias_bomb.yaml", &len);
    assert_non_null(text);
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load_string("bomb", text, len, &config, &err), ES_ERR_CONFIG);
    assert_non_null(strstr(err.message, "aliases"));
    free(text);
    /* An anchor alone is harmless. */
    load_ok("- &cam {id: a, rtsp_url: \"test://\"}\n", &config);
    es_config_free(&config);
}

static void test_config_rejects_deep_nesting_without_recursing(void **state)
{
    (void)state;
    size_t depth = 1000000;
    char *text = malloc(2 * depth + 1);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    expect_error_at(text, 1, 21, "", "nested deeper than 20 levels");
    /* Mappings in mappings: "{a: " per level. */
    for (size_t i = 0; i + 4 <= depth; i += 4)
        memcpy(text + i, "{a: ", 4);
    text[depth] = '\0';
    expect_error_at(text, 1, 81, "", "nested deeper");
    /* Block style, one level per line. */
    char block[8192] = "";
    size_t used = 0;
    for (int level = 0; level < 30; level++)
        used +=
            (size_t)snprintf(block + used, sizeof(block) - used, "%*sk%d:\n", 2 * level, "", level);
    expect_error_at(block, 21, 41, "", "nested deeper");
    free(text);
}

static void test_config_handles_very_long_lines(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *text = malloc(n + 128);
    /* A megabyte-long comment is only a comment. */
    int head = snprintf(text, 128, "- id: a\n  rtsp_url: test://\n# ");
    memset(text + head, 'x', n);
    text[head + (int)n] = '\0';
    struct es_config config;
    load_ok(text, &config);
    es_config_free(&config);
    /* A megabyte-long value is refused by its length, at its position. */
    head = snprintf(text, 128, "- id: a\n  rtsp_url: test://\n  name: ");
    memset(text + head, 'x', n);
    text[head + (int)n] = '\0';
    expect_error_at(text, 3, 9, "[0].name", "is too long (1000000 characters, at most 256)");
    /* And a megabyte-long unknown key is shown cut short. */
    head = snprintf(text, 128, "- id: a\n  rtsp_url: test://\n  ");
    memset(text + head, 'k', n);
    strcpy(text + head + n, ": 1\n");
    struct es_config_error err;
    assert_int_equal(load(text, &config, &err), ES_ERR_CONFIG);
    assert_int_equal(err.line, 3);
    assert_true(strlen(err.key) < sizeof(err.key));
    assert_true(strlen(err.message) < 200);
    free(text);
}

static void test_config_rejects_files_larger_than_the_limit(void **state)
{
    (void)state;
    size_t n = 5u * 1024 * 1024;
    char *text = malloc(n);
    memset(text, '#', n);
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load_string("big", text, n, &config, &err), ES_ERR_CONFIG);
    assert_non_null(strstr(err.message, "too large"));
    free(text);
}

static void test_config_rejects_floods_of_tiny_values(void **state)
{
    (void)state;
    size_t count = 300000;
    char *text = malloc(2 * count + 2);
    text[0] = '[';
    for (size_t i = 0; i < count; i++)
        memcpy(text + 1 + 2 * i, "a,", 2);
    text[2 * count] = ']';
    text[2 * count + 1] = '\0';
    expect_error_at(text, 1, 400000, "", "more than 200000 YAML values");
    free(text);
}

static void test_config_rejects_more_than_a_thousand_cameras(void **state)
{
    (void)state;
    size_t cap = 1001 * 40 + 1;
    char *text = malloc(cap);
    size_t used = 0;
    size_t thousand = 0;
    for (int i = 0; i < 1001; i++) {
        thousand = used;
        used += (size_t)snprintf(text + used, cap - used, "- {id: c%d, rtsp_url: test://}\n", i);
    }
    expect_error_at(text, 1, 1, "", "1001 cameras: at most 1000");
    /* A thousand is fine, and the duplicate check does not take long. */
    text[thousand] = '\0';
    struct es_config config;
    load_ok(text, &config);
    assert_int_equal(config.camera_count, 1000);
    es_config_free(&config);
    free(text);
}

static void test_config_load_string_does_not_need_a_terminating_nul(void **state)
{
    (void)state;
    char buf[64];
    const char *yaml = "- {id: a, rtsp_url: \"test://\"}\n";
    size_t len = strlen(yaml);
    memcpy(buf, yaml, len);
    memset(buf + len, 'Z', sizeof(buf) - len); /* garbage after the end */
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load_string("buf", buf, len, &config, &err), ES_OK);
    es_config_free(&config);
}

static void test_config_reports_unreadable_file_as_io_error_with_strerror(void **state)
{
    (void)state;
    struct es_config config;
    struct es_config_error err;
    assert_int_equal(es_config_load("/nonexistent/cameras.yaml", &config, &err), ES_ERR_IO);
    assert_string_equal(err.file, "/nonexistent/cameras.yaml");
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.message, "No such file or directory"));
    char text[1024];
    es_config_error_format(&err, text, sizeof(text));
    assert_string_equal(text, "/nonexistent/cameras.yaml: cannot read the config: No such file "
                              "or directory");
    assert_null(config.cameras);

    assert_int_equal(es_config_load(CONFIGS_DIR, &config, &err), ES_ERR_IO);
    assert_non_null(strstr(err.message, "Is a directory"));
}

static void test_config_error_format_is_file_line_column_key_message(void **state)
{
    (void)state;
    struct es_config_error err;
    memset(&err, 0, sizeof(err));
    strcpy(err.file, "cameras.yaml");
    err.line = 9;
    err.column = 17;
    strcpy(err.key, "[0].settings.target_fps");
    strcpy(err.message, "must be from 1 to 120, got 0");
    char text[256];
    es_config_error_format(&err, text, sizeof(text));
    assert_string_equal(text, "cameras.yaml:9:17: [0].settings.target_fps: must be from 1 to 120, "
                              "got 0");
    err.key[0] = '\0';
    es_config_error_format(&err, text, sizeof(text));
    assert_string_equal(text, "cameras.yaml:9:17: must be from 1 to 120, got 0");
    char small[8];
    es_config_error_format(&err, small, sizeof(small));
    assert_string_equal(small, "cameras");
    es_config_error_format(&err, small, 0); /* writes nothing */

    /* A long path keeps its file name. */
    char path[700];
    memset(path, 'd', sizeof(path));
    memcpy(path, "/x/", 3);
    strcpy(path + sizeof(path) - 12, "/cams.yaml");
    struct es_config config;
    assert_int_equal(es_config_load_string(path, "", 0, &config, &err), ES_ERR_CONFIG);
    assert_int_equal(strlen(err.file), sizeof(err.file) - 1);
    assert_string_equal(err.file + strlen(err.file) - 10, "/cams.yaml");
}

/* Each prefix and many one-byte mutations of a full config: any result is fine
 * except a crash, a leak, or an error without a message. */
static void test_config_survives_truncated_and_mutated_input(void **state)
{
    (void)state;
    size_t len;
    char *text = read_whole(CONFIGS_DIR "/good/mapping_form.yaml", &len);
    assert_non_null(text);
    struct es_config config;
    struct es_config_error err;
    for (size_t cut = 0; cut <= len; cut++) {
        enum es_err e = es_config_load_string("cut", text, cut, &config, &err);
        if (e == ES_OK)
            es_config_free(&config);
        else
            assert_true(err.message[0] != '\0' && err.line > 0);
    }
    static const char replacements[] = {':', '[', '{', '\t', '"', '\'', '-',  '&', '*', '!',
                                        '#', '|', '>', '%',  '@', '`',  '\n', ' ', '0', '\0'};
    char *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (size_t r = 0; r < sizeof(replacements); r++) {
            memcpy(copy, text, len);
            copy[i] = replacements[r];
            enum es_err e = es_config_load_string("mut", copy, len, &config, &err);
            if (e == ES_OK)
                es_config_free(&config);
            else
                assert_true(e == ES_ERR_CONFIG && err.message[0] != '\0' && err.line > 0);
        }
    }
    free(copy);
    free(text);
}

/* ---- The corpus ---- */

static char **list_yaml(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = NULL;
    *count = 0;
    struct dirent *entry;
    while ((entry = readdir(d))) {
        size_t n = strlen(entry->d_name);
        if (n < 5 || strcmp(entry->d_name + n - 5, ".yaml") != 0)
            continue;
        names = realloc(names, (*count + 1) * sizeof(*names));
        names[(*count)++] = strdup(entry->d_name);
    }
    closedir(d);
    return names;
}

static void free_list(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

static void test_config_bad_corpus_every_file_is_rejected_with_a_place(void **state)
{
    (void)state;
    size_t count, with_expectation = 0;
    char **names = list_yaml(CONFIGS_DIR "/bad", &count);
    assert_true(count >= 25);
    for (size_t i = 0; i < count; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/bad/%s", CONFIGS_DIR, names[i]);
        struct es_config config;
        struct es_config_error err;
        enum es_err e = es_config_load(path, &config, &err);
        char text[1024];
        es_config_error_format(&err, text, sizeof(text));
        if (e != ES_ERR_CONFIG || err.message[0] == '\0' || err.line == 0 || err.column == 0)
            fail_msg("%s: status %d, %s", names[i], (int)e, text);
        if (strstr(text, "hunter2"))
            fail_msg("%s: secret in %s", names[i], text);
        assert_string_equal(err.file, path);

        /* "# expect: LINE:COL KEY MESSAGE-PART" */
        char *head = read_whole(path, NULL);
        unsigned line, column;
        char key[128], part[512];
        int consumed = 0;
        if (sscanf(head, "# expect: %u:%u %127s %n", &line, &column, key, &consumed) == 3) {
            char *end = strchr(head + consumed, '\n');
            size_t n = end ? (size_t)(end - head - consumed) : strlen(head + consumed);
            snprintf(part, sizeof(part), "%.*s", (int)n, head + consumed);
            if (err.line != line || err.column != column ||
                strcmp(err.key, strcmp(key, "-") == 0 ? "" : key) != 0 ||
                !strstr(err.message, part))
                fail_msg("%s: expected %u:%u %s \"%s\", got %s", names[i], line, column, key, part,
                         text);
            with_expectation++;
        }
        free(head);
    }
    /* Only the files that cannot hold a comment (empty, binary) go without. */
    assert_true(with_expectation + 2 >= count);
    free_list(names, count);
}

static void test_config_good_corpus_every_file_loads(void **state)
{
    (void)state;
    size_t count;
    char **names = list_yaml(CONFIGS_DIR "/good", &count);
    assert_true(count >= 5);
    for (size_t i = 0; i < count; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/good/%s", CONFIGS_DIR, names[i]);
        struct es_config config;
        struct es_config_error err;
        if (es_config_load(path, &config, &err) != ES_OK) {
            char text[1024];
            es_config_error_format(&err, text, sizeof(text));
            fail_msg("%s", text);
        }
        assert_true(config.camera_count > 0);
        for (size_t c = 0; c < config.camera_count; c++)
            assert_int_equal(config.cameras[c].target_width % 2, 0);
        es_config_free(&config);
    }
    free_list(names, count);
}

/* ---- The ffmpeg command ---- */

static void camera_from(const char *yaml, struct es_config *config)
{
    load_ok(yaml, config);
}

static void test_ffmpeg_command_matches_the_reference_design(void **state)
{
    (void)state;
    struct es_config config;
    camera_from(reference_yaml, &config);
    char out[2048];
    es_config_ffmpeg_command(&config.cameras[0], "streams/location_1/cam_floor", false, out,
                             sizeof(out));
    assert_string_equal(
        out, "ffmpeg -rtsp_transport tcp -i 'rtsp://localhost:8554/cam1' -c:v libx264 -preset "
             "ultrafast -tune zerolatency -vf scale=854:-2 -r 15 -g 30 -sc_threshold 0 -c:a aac "
             "-b:a 128k -f hls -hls_time 2 -hls_list_size 5 -hls_flags "
             "delete_segments+append_list -hls_segment_filename "
             "'streams/location_1/cam_floor/segment_%03d.ts' "
             "'streams/location_1/cam_floor/stream.m3u8'");
    es_config_free(&config);
}

static void test_ffmpeg_command_follows_settings(void **state)
{
    (void)state;
    struct es_config config;
    char out[2048];
    camera_from("- id: a\n  rtsp_url: rtsp://cam/x\n  settings:\n    transcode: copy\n", &config);
    es_config_ffmpeg_command(&config.cameras[0], "d", false, out, sizeof(out));
    assert_string_equal(out,
                        "ffmpeg -rtsp_transport tcp -i 'rtsp://cam/x' -c copy -f hls -hls_time "
                        "2 -hls_list_size 5 -hls_flags delete_segments+append_list "
                        "-hls_segment_filename 'd/segment_%03d.ts' 'd/stream.m3u8'");
    es_config_free(&config);

    camera_from("- id: a\n  rtsp_url: rtsp://cam/x\n  settings: {transcode: copy, audio: off}\n",
                &config);
    es_config_ffmpeg_command(&config.cameras[0], "d", false, out, sizeof(out));
    assert_non_null(strstr(out, "-i 'rtsp://cam/x' -c:v copy -an -f hls"));
    es_config_free(&config);

    camera_from("- id: a\n  rtsp_url: rtsp://cam/x\n  settings: {audio: off, target_width: 1280,"
                " target_fps: 25, profile: ultra-low, audio_bitrate: 96000}\n",
                &config);
    es_config_ffmpeg_command(&config.cameras[0], "d", false, out, sizeof(out));
    assert_non_null(strstr(out, "-vf scale=1280:-2 -r 25 -g 25 -sc_threshold 0 -an -f hls "
                                "-hls_time 1 -hls_list_size 6 "));
    es_config_free(&config);

    camera_from("- id: a\n  rtsp_url: rtsp://cam/x\n  settings: {segment_duration: 1.5,"
                " audio_bitrate: 96500}\n",
                &config);
    es_config_ffmpeg_command(&config.cameras[0], "d", false, out, sizeof(out));
    assert_non_null(strstr(out, "-g 23 ")); /* 15 x 1.5 rounded */
    assert_non_null(strstr(out, "-b:a 96500 "));
    assert_non_null(strstr(out, "-hls_time 1.5 "));
    es_config_free(&config);
}

static void test_ffmpeg_command_uses_the_right_input_for_each_source_kind(void **state)
{
    (void)state;
    struct {
        const char *url, *input;
    } cases[] = {
        {"rtsps://cam/x", "ffmpeg -rtsp_transport tcp -i 'rtsps://cam/x' -c:v"},
        {"v4l2:///dev/video0", "ffmpeg -f v4l2 -i /dev/video0 -c:v"},
        {"v4l2:///dev/v4l/by-id/usb-Cam_(1)",
         "ffmpeg -f v4l2 -i '/dev/v4l/by-id/usb-Cam_(1)' -c:v"},
        {"file:///srv/a b.mp4", NULL},
        {"file:///srv/shop.mp4", "ffmpeg -re -stream_loop -1 -i '/srv/shop.mp4' -c:v"},
        {"file:media/shop.mp4", "ffmpeg -re -stream_loop -1 -i 'media/shop.mp4' -c:v"},
        {"test://", "ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=25 -c:v"},
        {"test://?width=640&height=360&fps=30",
         "ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=30 -c:v"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!cases[i].input)
            continue; /* a space in a URL is refused by the config */
        char yaml[256], out[2048];
        snprintf(yaml, sizeof(yaml), "- id: a\n  rtsp_url: \"%s\"\n", cases[i].url);
        struct es_config config;
        camera_from(yaml, &config);
        es_config_ffmpeg_command(&config.cameras[0], "d", false, out, sizeof(out));
        if (strncmp(out, cases[i].input, strlen(cases[i].input)) != 0)
            fail_msg("%s: got %s", cases[i].url, out);
        es_config_free(&config);
    }
}

static void test_ffmpeg_command_redacts_password_unless_revealed(void **state)
{
    (void)state;
    struct es_config config;
    camera_from("- id: a\n  rtsp_url: \"rtsp://admin:hunter2@10.0.0.5/live?token=t0k3n\"\n",
                &config);
    char out[2048];
    es_config_ffmpeg_command(&config.cameras[0], "d", false, out, sizeof(out));
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "t0k3n"));
    assert_non_null(strstr(out, "-i 'rtsp://admin:***@10.0.0.5/live?token=***'"));
    es_config_ffmpeg_command(&config.cameras[0], "d", true, out, sizeof(out));
    assert_non_null(strstr(out, "-i 'rtsp://admin:hunter2@10.0.0.5/live?token=t0k3n'"));
    es_config_free(&config);
}

static void test_ffmpeg_command_shell_quotes_paths_and_truncates_safely(void **state)
{
    (void)state;
    struct es_config config;
    camera_from("- id: a\n  rtsp_url: \"file:it's.mp4\"\n", &config);
    char out[2048];
    es_config_ffmpeg_command(&config.cameras[0], "/srv/o'brien", false, out, sizeof(out));
    assert_non_null(strstr(out, "-i 'it'\\''s.mp4' "));
    assert_non_null(strstr(out, "'/srv/o'\\''brien/stream.m3u8'"));
    for (size_t size = 0; size < 64; size++) {
        char small[64];
        memset(small, 'Z', sizeof(small));
        es_config_ffmpeg_command(&config.cameras[0], "d", false, small, size);
        if (size) {
            assert_int_equal(strlen(small), size - 1);
            assert_int_equal(strncmp(small, "ffmpeg -re", size - 1 < 10 ? size - 1 : 10), 0);
        } else {
            assert_int_equal(small[0], 'Z');
        }
    }
    es_config_free(&config);
}

/* ---- The option table and the docs ---- */

static void test_option_table_defaults_are_valid_for_their_own_rows(void **state)
{
    (void)state;
    size_t rows = 0;
    for (const struct es_config_option *o = es_config_options(); o->name; o++, rows++) {
        assert_non_null(o->help);
        assert_ptr_equal(es_config_option_find(o->section, o->name), o);
        if (o->type == ES_CONFIG_LIST || o->type == ES_CONFIG_MAPPING || !o->default_value)
            continue;
        char why[256];
        struct es_camera_config scratch;
        memset(&scratch, 0, sizeof(scratch));
        if (!es_config_option_set(o, o->default_value, false, NULL, why, sizeof(why)))
            fail_msg("default of %s: %s", o->name, why);
    }
    assert_true(rows >= 24);
    assert_null(es_config_option_find(ES_CONFIG_SECTION_CAMERA, "target_fps"));
    assert_null(es_config_option_suggest(1u << ES_CONFIG_SECTION_SETTINGS, ""));
    assert_null(es_config_option_suggest(1u << ES_CONFIG_SECTION_SETTINGS, "zzzzzzzzzz"));
    char long_word[300];
    memset(long_word, 'a', sizeof(long_word) - 1);
    long_word[sizeof(long_word) - 1] = '\0';
    assert_null(es_config_option_suggest(1u << ES_CONFIG_SECTION_SETTINGS, long_word));
    assert_string_equal(es_config_option_suggest(1u << ES_CONFIG_SECTION_SETTINGS, "target_fsp"),
                        "target_fps");
}

static void test_config_reference_in_docs_matches_the_option_table(void **state)
{
    (void)state;
    char *printed = NULL;
    size_t printed_len = 0;
    FILE *out = open_memstream(&printed, &printed_len);
    assert_non_null(out);
    es_config_print_reference(out);
    fclose(out);
    assert_true(printed_len > 1000);
    /* Every row is printed. */
    for (const struct es_config_option *o = es_config_options(); o->name; o++) {
        char cell[96];
        snprintf(cell, sizeof(cell), "| `%s` |", o->name);
        assert_non_null(strstr(printed, cell));
    }
    char *docs = read_whole(ES_TEST_DATA_DIR "/../docs/configuration.md", NULL);
    assert_non_null(docs);
    if (!strstr(docs, printed))
        fail_msg("docs/configuration.md does not contain the output of "
                 "es_config_print_reference() verbatim: regenerate it with "
                 "`edgestream --help-config` (see the docs for the exact step)");
    free(docs);
    free(printed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_accepts_reference_cameras_yaml_unchanged),
        cmocka_unit_test(test_config_example_file_loads_and_shows_profile),
        cmocka_unit_test(test_config_applies_reference_defaults_when_settings_are_absent),
        cmocka_unit_test(test_config_accepts_mapping_form_with_defaults_storage_and_log_level),
        cmocka_unit_test(test_config_defaults_apply_to_every_camera_unless_the_camera_sets_them),
        cmocka_unit_test(test_config_treats_empty_sections_as_absent),
        cmocka_unit_test(test_config_empty_storage_list_disables_the_local_backend),
        cmocka_unit_test(test_config_accepts_every_source_url_kind),
        cmocka_unit_test(test_config_source_parse_rejects_malformed_urls),
        cmocka_unit_test(test_config_accepts_yaml_1_1_booleans_like_pyyaml),
        cmocka_unit_test(test_config_accepts_flow_style_and_crlf_line_endings),
        cmocka_unit_test(test_config_find_camera_returns_the_camera_by_id),
        cmocka_unit_test(test_config_free_accepts_null_zeroed_and_freed_configs),
        cmocka_unit_test(test_profiles_match_the_reference_latency_table),
        cmocka_unit_test(test_config_profile_sets_segment_duration_and_segments_to_keep),
        cmocka_unit_test(test_config_explicit_settings_beside_a_profile_win_in_any_order),
        cmocka_unit_test(test_config_precedence_follows_the_documented_order),
        cmocka_unit_test(test_config_rounds_odd_target_width_up_to_even),
        cmocka_unit_test(test_config_range_limits_are_inclusive),
        cmocka_unit_test(test_config_rejects_target_fps_zero_at_its_value),
        cmocka_unit_test(test_config_segments_to_keep_error_cites_rfc_8216),
        cmocka_unit_test(test_config_suggests_nearest_key_for_typo),
        cmocka_unit_test(test_config_lists_valid_keys_when_nothing_is_close),
        cmocka_unit_test(test_config_says_where_a_misplaced_key_belongs),
        cmocka_unit_test(test_config_rejects_wrong_types_at_the_value_position),
        cmocka_unit_test(test_config_reports_missing_required_keys_at_the_camera_mapping_start),
        cmocka_unit_test(test_config_validates_id_location_and_string_lengths),
        cmocka_unit_test(test_config_rejects_duplicate_camera_ids_naming_both_lines),
        cmocka_unit_test(test_config_rejects_duplicate_keys_in_one_mapping),
        cmocka_unit_test(test_config_rejects_unknown_profile_listing_valid_names),
        cmocka_unit_test(test_config_rejects_reconnect_min_above_max_where_it_was_set),
        cmocka_unit_test(test_config_rejects_delete_grace_shorter_than_rfc_8216_allows),
        cmocka_unit_test(test_config_rejects_unknown_storage_backend_naming_valid_ones),
        cmocka_unit_test(test_config_rejects_bad_source_urls_at_the_url),
        cmocka_unit_test(test_config_redacts_passwords_in_error_messages),
        cmocka_unit_test(test_config_rejects_empty_and_comment_only_files),
        cmocka_unit_test(test_config_rejects_scalars_at_top_level),
        cmocka_unit_test(test_config_reports_yaml_syntax_errors_with_libyaml_position),
        cmocka_unit_test(test_config_accepts_explicit_core_tags),
        cmocka_unit_test(test_config_rejects_tabs_in_indentation),
        cmocka_unit_test(test_config_rejects_binary_and_non_utf8_input),
        cmocka_unit_test(test_config_rejects_alias_bombs_without_expanding_them),
        cmocka_unit_test(test_config_rejects_deep_nesting_without_recursing),
        cmocka_unit_test(test_config_handles_very_long_lines),
        cmocka_unit_test(test_config_rejects_files_larger_than_the_limit),
        cmocka_unit_test(test_config_rejects_floods_of_tiny_values),
        cmocka_unit_test(test_config_rejects_more_than_a_thousand_cameras),
        cmocka_unit_test(test_config_load_string_does_not_need_a_terminating_nul),
        cmocka_unit_test(test_config_reports_unreadable_file_as_io_error_with_strerror),
        cmocka_unit_test(test_config_error_format_is_file_line_column_key_message),
        cmocka_unit_test(test_config_survives_truncated_and_mutated_input),
        cmocka_unit_test(test_config_bad_corpus_every_file_is_rejected_with_a_place),
        cmocka_unit_test(test_config_good_corpus_every_file_loads),
        cmocka_unit_test(test_ffmpeg_command_matches_the_reference_design),
        cmocka_unit_test(test_ffmpeg_command_follows_settings),
        cmocka_unit_test(test_ffmpeg_command_uses_the_right_input_for_each_source_kind),
        cmocka_unit_test(test_ffmpeg_command_redacts_password_unless_revealed),
        cmocka_unit_test(test_ffmpeg_command_shell_quotes_paths_and_truncates_safely),
        cmocka_unit_test(test_option_table_defaults_are_valid_for_their_own_rows),
        cmocka_unit_test(test_config_reference_in_docs_matches_the_option_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
