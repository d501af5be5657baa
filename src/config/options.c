/* The option table: one row per configuration key. The loader (config.c) walks
 * YAML and asks this file what each key is, converts scalars with it and applies
 * its defaults; es_config_print_reference() prints it for docs/configuration.md. */
#include "config/config.h"

#include "core/alloc.h"
#include "core/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ES_CONFIG_ENUM fields are written as unsigned: both enums have only
 * non-negative members, which C gives the size of an unsigned int here. */
_Static_assert(sizeof(enum es_transcode_mode) == sizeof(unsigned), "enum field size");
_Static_assert(sizeof(enum es_audio_mode) == sizeof(unsigned), "enum field size");
_Static_assert(sizeof(enum es_s3_url_style) == sizeof(unsigned), "enum field size");

static bool check_path_component(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
        if (!ok) {
            snprintf(why, why_size,
                     "may only contain letters, digits, '_' and '-' (it becomes a path "
                     "component), found '%c'",
                     (*c >= ' ' && *c < 0x7f) ? *c : '?');
            return false;
        }
    }
    return true;
}

static bool check_source_url(const char *value, char *why, size_t why_size)
{
    struct es_config_source source;
    return es_config_source_parse(value, &source, why, why_size);
}

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const transcode_modes[] = {"x264", "copy", NULL};
static const char *const audio_modes[] = {"auto", "off", NULL};
static const char *const storage_backends[] = {"local", "supabase", "s3", NULL};
static const char *const s3_url_styles[] = {"auto", "path", "virtual", NULL};

/* http:// or https:// with a host; no userinfo (keys travel in headers, never
 * in URLs, so a URL can always be printed). */
static bool check_http_url(const char *value, char *why, size_t why_size)
{
    const char *host = NULL;
    if (strncmp(value, "https://", 8) == 0)
        host = value + 8;
    else if (strncmp(value, "http://", 7) == 0)
        host = value + 7;
    if (!host) {
        snprintf(why, why_size, "must start with https:// (or http:// for a local test server)");
        return false;
    }
    size_t host_len = strcspn(host, "/?#");
    if (host_len == 0) {
        snprintf(why, why_size, "has no host name");
        return false;
    }
    if (memchr(host, '@', host_len)) {
        snprintf(why, why_size, "must not carry credentials: put keys in their own keys or in "
                                "the environment");
        return false;
    }
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f || strchr("?#", *c)) {
            snprintf(why, why_size, "must be a plain base URL (no spaces, query or fragment)");
            return false;
        }
    }
    return true;
}

/* Bucket names as S3 and Supabase both accept them. */
static bool check_bucket(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
        if (!ok) {
            snprintf(why, why_size,
                     "may only contain letters, digits, '.', '_' and '-', found '%c'",
                     (*c >= ' ' && *c < 0x7f) ? *c : '?');
            return false;
        }
    }
    return true;
}

/* A value sent as an HTTP header: printable ASCII only (a CR or LF would end
 * the header and inject another). */
static bool check_header_value(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c < ' ' || (unsigned char)*c >= 0x7f) {
            snprintf(why, why_size, "must be printable ASCII (it is sent as an HTTP header)");
            return false;
        }
    }
    return true;
}

/* Keys and tokens go into HTTP headers too; the reason never quotes them. */
static bool check_secret(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
            snprintf(why, why_size, "must be printable ASCII without spaces (value not shown)");
            return false;
        }
    }
    return true;
}

/* origin.webrtc.bind and additional_hosts: numeric addresses only (a browser
 * resolves no names in ICE candidates; MediaMTX#4017). */
static bool is_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool check_ip(const char *value, char *why, size_t why_size)
{
    if (is_ip(value))
        return true;
    snprintf(why, why_size, "must be a numeric IPv4 or IPv6 address");
    return false;
}

static bool check_ip_list(const char *value, char *why, size_t why_size)
{
    char copy[1100];
    snprintf(copy, sizeof(copy), "%s", value);
    char *save = NULL;
    for (char *h = strtok_r(copy, ", ", &save); h; h = strtok_r(NULL, ", ", &save)) {
        if (!is_ip(h)) {
            snprintf(why, why_size, "'%.64s' is not a numeric IP address (browsers resolve no "
                     "names in candidates)", h);
            return false;
        }
    }
    return true;
}

/* origin.webrtc.ice_servers: URLs that go into Link headers as <...>. */
static bool check_ice_servers(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              strchr(".:-_/?=&[],% ", *c))) {
            snprintf(why, why_size, "must be stun:, turn: or turns: URLs separated by commas");
            return false;
        }
    }
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", value);
    char *save = NULL;
    for (char *u = strtok_r(copy, ", ", &save); u; u = strtok_r(NULL, ", ", &save)) {
        if (strncmp(u, "stun:", 5) != 0 && strncmp(u, "turn:", 5) != 0 &&
            strncmp(u, "turns:", 6) != 0) {
            snprintf(why, why_size, "'%s' is not a stun:, turn: or turns: URL", u);
            return false;
        }
    }
    return true;
}

/* TURN username and credential go into a quoted Link parameter. */
static bool check_link_param(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || *c == '"' || *c == '\\') {
            snprintf(why, why_size, "must be printable ASCII without spaces, quotes or "
                     "backslashes (value not shown)");
            return false;
        }
    }
    return true;
}

static bool check_region(const char *value, char *why, size_t why_size)
{
    for (const char *c = value; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-';
        if (!ok) {
            snprintf(why, why_size, "may only contain lowercase letters, digits and '-'");
            return false;
        }
    }
    return true;
}

/* origin.listen: "host:port" or "[v6]:port" with a numeric port. The origin
 * resolves the host when it starts. */
static bool check_listen(const char *value, char *why, size_t why_size)
{
    const char *colon = strrchr(value, ':');
    bool bracketed = value[0] == '[';
    const char *close = bracketed ? strchr(value, ']') : NULL;
    bool shape = colon && colon != value && colon[1] != '\0' &&
                 (!bracketed || (close && close + 1 == colon && close > value + 1));
    long port = -1;
    if (shape) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || colon[1] < '0' || colon[1] > '9')
            port = -1;
    }
    if (!shape || port < 0 || port > 65535) {
        snprintf(why, why_size,
                 "must be host:port or [ipv6]:port with a port from 0 to 65535, e.g. "
                 "127.0.0.1:8080");
        return false;
    }
    return true;
}

#define ORIGIN(field) offsetof(struct es_origin_settings, field)
#define WEBRTC(field) offsetof(struct es_webrtc_settings, field)
#define CAMERA(field) offsetof(struct es_camera_config, field)

static const char keep_note[] =
    " (RFC 8216 section 6.2.2: a live playlist must never be shorter than three target "
    "durations)";

static const struct es_config_option options[] = {
    {ES_CONFIG_SECTION_TOP, "cameras", ES_CONFIG_LIST, ES_CONFIG_REQUIRED, NULL, NULL, 0, 0, NULL,
     NULL, NULL, 0,
     "The cameras, each as in the list form. At least one. Required in the mapping form."},
    {ES_CONFIG_SECTION_TOP, "defaults", ES_CONFIG_MAPPING, 0, NULL, "none", 0, 0, NULL, NULL, NULL,
     0,
     "Settings for every camera that does not set them itself: any key of the camera "
     "settings table, written directly under `defaults:`."},
    {ES_CONFIG_SECTION_TOP, "storage", ES_CONFIG_LIST, 0, NULL,
     "one `local` backend, plus `supabase` when `$SUPABASE_URL` and `$SUPABASE_KEY` are set", 0, 0,
     NULL, NULL, NULL, 0,
     "Where playlists and segments are stored: a list of backends (`local`, `supabase`, `s3`), "
     "each a mapping with `backend:` and that backend's keys, each backend at most once. An "
     "empty list stores nothing."},
    {ES_CONFIG_SECTION_TOP, "origin", ES_CONFIG_MAPPING, 0, NULL, "enabled, on 127.0.0.1:8080", 0,
     0, NULL, NULL, NULL, 0,
     "The HTTP origin: playlists, segments and Low-Latency HLS parts from memory, the web "
     "player, `/api/cameras`, `/metrics`, `/healthz` (docs/origin.md)."},
    {ES_CONFIG_SECTION_TOP, "log_level", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, "info", NULL, 1, 16,
     log_levels, NULL, NULL, offsetof(struct es_config, log_level),
     "Least severe log level written to stderr."},
    {ES_CONFIG_SECTION_TOP, "record_root", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, "recordings",
     NULL, 1, 4096, NULL, NULL, NULL, offsetof(struct es_config, record_root),
     "Directory of the cameras' recordings (`settings.record`); relative paths start at the "
     "working directory, or under systemd at the state directory (`$STATE_DIRECTORY`: "
     "`/var/lib/edgestream/recordings` for the packaged service)."},

    {ES_CONFIG_SECTION_CAMERA, "id", ES_CONFIG_STRING, ES_CONFIG_REQUIRED, NULL, NULL, 1, 64, NULL,
     check_path_component, NULL, CAMERA(id),
     "Unique camera id: letters, digits, `_` and `-`. Names the camera's storage folder."},
    {ES_CONFIG_SECTION_CAMERA, "name", ES_CONFIG_STRING, 0, NULL, "the `id`", 1, 256, NULL, NULL,
     NULL, CAMERA(name), "Display name."},
    {ES_CONFIG_SECTION_CAMERA, "rtsp_url", ES_CONFIG_STRING, ES_CONFIG_REQUIRED, NULL, NULL, 1,
     2048, NULL, check_source_url, NULL, CAMERA(rtsp_url),
     "The source: `rtsp://` or `rtsps://` (always over TCP), `v4l2:///dev/videoN`, "
     "`file:///abs/path` or `file:relative/path` (looped), or `test://` (a generated "
     "pattern, `test://?width=1280&height=720&fps=25`). Passwords are never printed."},
    {ES_CONFIG_SECTION_CAMERA, "use_case", ES_CONFIG_STRING, 0, "live_stream", NULL, 1, 64, NULL,
     NULL, NULL, CAMERA(use_case), "Carried through from the reference design."},
    {ES_CONFIG_SECTION_CAMERA, "enabled", ES_CONFIG_BOOL, 0, "true", NULL, 0, 0, NULL, NULL, NULL,
     CAMERA(enabled), "A disabled camera is validated but not streamed."},
    {ES_CONFIG_SECTION_CAMERA, "location", ES_CONFIG_STRING, 0, "location_1", NULL, 1, 64, NULL,
     check_path_component, NULL, CAMERA(location),
     "Storage folder above the camera's (`<location>/<id>/stream.m3u8`): letters, digits, "
     "`_` and `-`."},
    {ES_CONFIG_SECTION_CAMERA, "settings", ES_CONFIG_MAPPING, 0, NULL, "none", 0, 0, NULL, NULL,
     NULL, 0, "The camera's settings: keys of the camera settings table."},

    {ES_CONFIG_SECTION_SETTINGS, "profile", ES_CONFIG_PROFILE, 0, NULL, "none", 0, 0, NULL, NULL,
     NULL, CAMERA(profile),
     "Latency profile: sets `segment_duration` and `segments_to_keep` (and the player's "
     "hold-back). Explicit keys beside it win."},
    {ES_CONFIG_SECTION_SETTINGS, "target_width", ES_CONFIG_UINT, ES_CONFIG_EVEN, "854", NULL, 16,
     7680, NULL, NULL, NULL, CAMERA(target_width),
     "Output width in pixels; the height keeps the aspect ratio. An odd width is rounded up "
     "to even, with a warning."},
    {ES_CONFIG_SECTION_SETTINGS, "target_fps", ES_CONFIG_UINT, 0, "15", NULL, 1, 120, NULL, NULL,
     NULL, CAMERA(target_fps), "Output frame rate; frames above it are dropped."},
    {ES_CONFIG_SECTION_SETTINGS, "segment_duration", ES_CONFIG_SECONDS, 0, "2", NULL, 0.5, 60, NULL,
     NULL, NULL, CAMERA(segment_duration),
     "Target segment duration in seconds; every segment starts with a keyframe."},
    {ES_CONFIG_SECTION_SETTINGS, "segments_to_keep", ES_CONFIG_UINT, 0, "5", NULL, 3, 1000, NULL,
     NULL, keep_note, CAMERA(segments_to_keep),
     "Segments in the live playlist (the rolling window). At least 3: RFC 8216 forbids a "
     "live playlist shorter than three target durations."},
    {ES_CONFIG_SECTION_SETTINGS, "transcode", ES_CONFIG_ENUM, 0, "x264", NULL, 0, 0,
     transcode_modes, NULL, NULL, CAMERA(transcode),
     "`x264`: decode, drop to `target_fps`, scale to `target_width`, encode with libx264. "
     "`copy`: pass the camera's H.264 through (segments cut on its keyframes)."},
    {ES_CONFIG_SECTION_SETTINGS, "audio", ES_CONFIG_ENUM, 0, "auto", NULL, 0, 0, audio_modes, NULL,
     NULL, CAMERA(audio), "`auto`: AAC when the source has audio. `off`: video only."},
    {ES_CONFIG_SECTION_SETTINGS, "audio_bitrate", ES_CONFIG_UINT, 0, "128000", NULL, 16000, 512000,
     NULL, NULL, NULL, CAMERA(audio_bitrate), "AAC bit rate in bits per second."},
    {ES_CONFIG_SECTION_SETTINGS, "connect_timeout_ms", ES_CONFIG_UINT, 0, "5000", NULL, 100, 600000,
     NULL, NULL, NULL, CAMERA(connect_timeout_ms),
     "Milliseconds to wait for the source to connect before retrying."},
    {ES_CONFIG_SECTION_SETTINGS, "read_timeout_ms", ES_CONFIG_UINT, 0, "5000", NULL, 100, 600000,
     NULL, NULL, NULL, CAMERA(read_timeout_ms),
     "Milliseconds without data from the source before it is reconnected."},
    {ES_CONFIG_SECTION_SETTINGS, "reconnect_min_ms", ES_CONFIG_UINT, 0, "100", NULL, 100, 600000,
     NULL, NULL, NULL, CAMERA(reconnect_min_ms),
     "First reconnect delay in milliseconds; it doubles after each failure. At most "
     "`reconnect_max_ms`."},
    {ES_CONFIG_SECTION_SETTINGS, "reconnect_max_ms", ES_CONFIG_UINT, 0, "1000", NULL, 100, 600000,
     NULL, NULL, NULL, CAMERA(reconnect_max_ms), "Longest reconnect delay in milliseconds."},
    {ES_CONFIG_SECTION_SETTINGS, "rtsp_allow_basic", ES_CONFIG_BOOL, 0, "false", NULL, 0, 0, NULL,
     NULL, NULL, CAMERA(rtsp_allow_basic),
     "Send the password to an `rtsp://` camera that offers only Basic authentication. Off: "
     "over plain TCP Basic shows the password to anyone on the path, and a man in the middle "
     "can strip a camera's Digest offer to get it, so the camera is refused (and, like wrong "
     "credentials, retried every few minutes). `rtsps://` is not affected."},
    {ES_CONFIG_SECTION_SETTINGS, "delete_grace", ES_CONFIG_SECONDS, ES_CONFIG_AUTO, "auto", NULL, 0,
     86400, NULL, NULL, NULL, CAMERA(delete_grace),
     "Seconds a segment stays in storage after leaving the playlist. `auto`: the playlist "
     "duration + 30 s. At least `segment_duration` x (`segments_to_keep` + 1) (RFC 8216 "
     "section 6.2.2)."},
    {ES_CONFIG_SECTION_SETTINGS, "part_target", ES_CONFIG_SECONDS, 0, "0", NULL, 0, 2, NULL, NULL,
     NULL, CAMERA(part_target),
     "Low-Latency HLS on the origin: the part duration in seconds (PART-TARGET, rounded down "
     "to whole frames); 0 = classic HLS only. The `ll` profile sets 0.134 (two frames at 15 "
     "fps). At most `segment_duration`."},
    {ES_CONFIG_SECTION_SETTINGS, "record", ES_CONFIG_BOOL, 0, "false", NULL, 0, 0, NULL, NULL,
     NULL, CAMERA(record),
     "Record the camera continuously: its segments are kept under `record_root` "
     "(`<camera>/YYYY-MM-DD/HH/`), indexed, and played back from the origin's `/vod/` paths "
     "(docs/recording.md). No second encode."},
    {ES_CONFIG_SECTION_SETTINGS, "record_days", ES_CONFIG_UINT, 0, "7", NULL, 1, 3650, NULL, NULL,
     NULL, CAMERA(record_days), "Recordings older than this many days are deleted."},
    {ES_CONFIG_SECTION_SETTINGS, "record_max_gb", ES_CONFIG_SECONDS, ES_CONFIG_AMOUNT, "0", NULL,
     0, 1000000, NULL, NULL, NULL, CAMERA(record_max_gb),
     "The camera's recording budget in GB (10^9 bytes; fractions allowed, e.g. `0.5`); past "
     "it the oldest segments are deleted. `0` = no budget (age and `record_min_free_gb` "
     "still apply)."},
    {ES_CONFIG_SECTION_SETTINGS, "record_min_free_gb", ES_CONFIG_SECONDS, ES_CONFIG_AMOUNT, "1",
     NULL, 0, 1000000, NULL, NULL, NULL, CAMERA(record_min_free_gb),
     "Free-space floor in GB on the file system of `record_root`: below it the camera's "
     "oldest segments are deleted, and with none left its new ones are not recorded, so "
     "recording never fills the disk. `0` = no floor."},

    {ES_CONFIG_SECTION_STORAGE, "backend", ES_CONFIG_STRING, ES_CONFIG_REQUIRED, NULL, NULL, 1, 16,
     storage_backends, NULL, NULL, 0, "Which backend this item configures."},
    {ES_CONFIG_SECTION_LOCAL, "root", ES_CONFIG_STRING, 0, "streams", NULL, 1, 4096, NULL, NULL,
     NULL, offsetof(struct es_local_storage, root),
     "Directory that receives `<location>/<id>/stream.m3u8` and the segments; relative "
     "paths start at the working directory, or under systemd at the state directory "
     "(`$STATE_DIRECTORY`: `/var/lib/edgestream/streams` for the packaged service)."},

#define REMOTE(field) offsetof(struct es_remote_storage, field)
    {ES_CONFIG_SECTION_REMOTE, "segment_cache_control", ES_CONFIG_STRING, 0,
     "public, max-age=31536000, immutable", NULL, 1, 256, NULL, check_header_value, NULL,
     REMOTE(segment_cache_control),
     "`Cache-Control` stored with every segment. A segment name is never reused, so it may "
     "be cached forever."},
    {ES_CONFIG_SECTION_REMOTE, "playlist_cache_control", ES_CONFIG_STRING, 0, "no-cache", NULL, 1,
     256, NULL, check_header_value, NULL, REMOTE(playlist_cache_control),
     "`Cache-Control` stored with the playlist, which is rewritten every segment."},
    {ES_CONFIG_SECTION_REMOTE, "max_backlog_mb", ES_CONFIG_UINT, 0, "64", NULL, 1, 4096, NULL,
     NULL, NULL, REMOTE(max_backlog_mb),
     "Unsent segment bytes kept per camera (MiB) while the store is unreachable. Beyond it "
     "the oldest are dropped and the playlist marks the gap with EXT-X-DISCONTINUITY."},
    {ES_CONFIG_SECTION_REMOTE, "connections", ES_CONFIG_UINT, 0, "4", NULL, 1, 32, NULL, NULL,
     NULL, REMOTE(connections),
     "Persistent connections to the store, shared by every camera."},
    {ES_CONFIG_SECTION_REMOTE, "connect_timeout_ms", ES_CONFIG_UINT, 0, "5000", NULL, 100, 60000,
     NULL, NULL, NULL, REMOTE(connect_timeout_ms),
     "Milliseconds to wait for a connection to the store."},
    {ES_CONFIG_SECTION_REMOTE, "stall_timeout_ms", ES_CONFIG_UINT, 0, "5000", NULL, 500, 600000,
     NULL, NULL, NULL, REMOTE(stall_timeout_ms),
     "A request that moves no byte for this many milliseconds fails and is retried."},
    {ES_CONFIG_SECTION_REMOTE, "retry_max_ms", ES_CONFIG_UINT, 0, "2000", NULL, 100, 600000, NULL,
     NULL, NULL, REMOTE(retry_max_ms),
     "Longest wait between retries after a transient error (429, 5xx, timeouts, resets); "
     "waits double from 250 ms up to it, with jitter."},
    {ES_CONFIG_SECTION_REMOTE, "recheck_s", ES_CONFIG_UINT, 0, "60", NULL, 1, 86400, NULL, NULL,
     NULL, REMOTE(recheck_s),
     "After a permanent error (bad key, missing bucket) the store is asked again only this "
     "often (seconds), with one request."},
    {ES_CONFIG_SECTION_REMOTE, "delete_interval_s", ES_CONFIG_UINT, 0, "10", NULL, 1, 3600, NULL,
     NULL, NULL, REMOTE(delete_interval_s),
     "Segments past `delete_grace` are deleted in one batched request this often (seconds)."},

#define SUPABASE(field) offsetof(struct es_supabase_storage, field)
    {ES_CONFIG_SECTION_SUPABASE, "url", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "`$SUPABASE_URL`", 1, 2048, NULL, check_http_url, NULL, SUPABASE(url),
     "The project URL, e.g. `https://xxx.supabase.co`."},
    {ES_CONFIG_SECTION_SUPABASE, "key", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "`$SUPABASE_KEY`", 1, 8192, NULL, check_secret, NULL, SUPABASE(key),
     "The service-role or secret key. Prefer the environment; it is never printed."},
    {ES_CONFIG_SECTION_SUPABASE, "bucket", ES_CONFIG_STRING, 0, "streams", NULL, 1, 100, NULL,
     check_bucket, NULL, SUPABASE(bucket),
     "Bucket that receives `<location>/<id>/stream.m3u8` and the segments. Public, for "
     "viewers to read it."},
    {ES_CONFIG_SECTION_SUPABASE, "register_cameras", ES_CONFIG_BOOL, 0, "true", NULL, 0, 0, NULL,
     NULL, NULL, SUPABASE(register_cameras),
     "Keep each camera's row in the `cameras` table current (upsert on `camera_key`: "
     "`stream_url`, `status` active/offline, `last_seen_at`, latency figures; "
     "docs/storage.md). Needs the migrations in `supabase/migrations/`."},
    {ES_CONFIG_SECTION_SUPABASE, "heartbeat_s", ES_CONFIG_UINT, 0, "30", NULL, 1, 3600, NULL, NULL,
     NULL, SUPABASE(heartbeat_s),
     "How often a live camera's `last_seen_at` is renewed (seconds); a status change is "
     "sent at once. Dashboards call a camera offline when it is 3 heartbeats old."},

#define S3(field) offsetof(struct es_s3_storage, field)
    {ES_CONFIG_SECTION_S3, "bucket", ES_CONFIG_STRING, ES_CONFIG_REQUIRED, NULL, NULL, 3, 63, NULL,
     check_bucket, NULL, S3(bucket),
     "Bucket that receives `<location>/<id>/stream.m3u8` and the segments."},
    {ES_CONFIG_SECTION_S3, "region", ES_CONFIG_STRING, 0, "us-east-1", NULL, 1, 64, NULL,
     check_region, NULL, S3(region), "Region the requests are signed for (SigV4)."},
    {ES_CONFIG_SECTION_S3, "endpoint", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "AWS: `https://s3.<region>.amazonaws.com`", 1, 2048, NULL, check_http_url, NULL,
     S3(endpoint),
     "Base URL of an S3-compatible store (Cloudflare R2, MinIO, Supabase's "
     "`https://<ref>.supabase.co/storage/v1/s3`)."},
    {ES_CONFIG_SECTION_S3, "url_style", ES_CONFIG_ENUM, 0, "auto", NULL, 0, 0, s3_url_styles, NULL,
     NULL, S3(url_style),
     "`path`: `<endpoint>/<bucket>/<key>`. `virtual`: `<bucket>.<endpoint host>/<key>`. "
     "`auto`: virtual for AWS, path when `endpoint` is set."},
    {ES_CONFIG_SECTION_S3, "access_key_id", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "`$AWS_ACCESS_KEY_ID`", 1, 256, NULL, check_secret, NULL, S3(access_key_id),
     "Access key id."},
    {ES_CONFIG_SECTION_S3, "secret_access_key", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "`$AWS_SECRET_ACCESS_KEY`", 1, 256, NULL, check_secret, NULL, S3(secret_access_key),
     "Secret access key. Prefer the environment; it is never printed."},
    {ES_CONFIG_SECTION_S3, "session_token", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "`$AWS_SESSION_TOKEN`, else none", 1, 8192, NULL, check_secret, NULL, S3(session_token),
     "Session token for temporary credentials. Never printed."},

    {ES_CONFIG_SECTION_ORIGIN, "enabled", ES_CONFIG_BOOL, 0, "true", NULL, 0, 0, NULL, NULL, NULL,
     ORIGIN(enabled), "Serve HTTP. When the address is taken the cameras still stream to "
     "storage (a warning says so)."},
    {ES_CONFIG_SECTION_ORIGIN, "listen", ES_CONFIG_STRING, 0, "127.0.0.1:8080", NULL, 3, 256,
     NULL, check_listen, NULL, ORIGIN(listen),
     "Address and port, e.g. `0.0.0.0:8080` for the whole LAN or `[::1]:8080`; port 0 picks "
     "a free one (logged)."},
    {ES_CONFIG_SECTION_ORIGIN, "token", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL, "none", 8,
     256, NULL, check_secret, NULL, ORIGIN(token),
     "Bearer token for `/live/`, `/api/` and `/metrics` (header `Authorization: Bearer`, or "
     "`?token=` for players that cannot set headers). Never printed."},
    {ES_CONFIG_SECTION_ORIGIN, "tls_cert", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL, "none", 1,
     4096, NULL, NULL, NULL, ORIGIN(tls_cert),
     "PEM certificate chain: with `tls_key`, HTTPS (HTTP/1.1; HTTP/2 too with `http2`)."},
    {ES_CONFIG_SECTION_ORIGIN, "tls_key", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL, "none", 1,
     4096, NULL, NULL, NULL, ORIGIN(tls_key), "PEM private key for `tls_cert`."},
    {ES_CONFIG_SECTION_ORIGIN, "http2", ES_CONFIG_BOOL, 0, "false", NULL, 0, 0, NULL, NULL, NULL,
     ORIGIN(http2),
     "With TLS, also offer HTTP/2 (ALPN). Off by default: libh2o 2.2.5 has no fix for HTTP/2 "
     "Rapid Reset (CVE-2023-44487), so turn it on only where every client is trusted, and put "
     "nginx in front for anything else (docs/origin.md). Plaintext is HTTP/1.1 only, always."},
    {ES_CONFIG_SECTION_ORIGIN, "cors", ES_CONFIG_STRING, 0, "off", NULL, 1, 1024, NULL,
     check_header_value, NULL, ORIGIN(cors),
     "`Access-Control-Allow-Origin` sent with every response: `off` (same-origin only: "
     "pages from elsewhere cannot read the video, `/api/` or `/metrics`), one origin such as "
     "`https://shop.example`, or `*`."},
    {ES_CONFIG_SECTION_ORIGIN, "web_root", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL, "auto", 1,
     4096, NULL, NULL, NULL, ORIGIN(web_root),
     "The web player and dashboard served at `/`. `auto`: the source tree's `web/dist` "
     "(`make` builds it) when the program runs from its build folder, else the installed "
     "files (`/usr/share/edgestream/web` from the package), wherever it is started. A "
     "relative path starts at the working directory."},
    {ES_CONFIG_SECTION_ORIGIN, "max_connections", ES_CONFIG_UINT, 0, "4096", NULL, 1, 100000,
     NULL, NULL, NULL, ORIGIN(max_connections),
     "Connections served at once; more are closed as soon as they are accepted."},
    {ES_CONFIG_SECTION_ORIGIN, "idle_timeout_ms", ES_CONFIG_UINT, 0, "10000", NULL, 1000, 600000,
     NULL, NULL, NULL, ORIGIN(idle_timeout_ms),
     "Milliseconds an idle keep-alive connection, or a client still sending its request "
     "headers, is kept; a response whose client takes no bytes for this long is cut."},
    {ES_CONFIG_SECTION_ORIGIN, "max_parked", ES_CONFIG_UINT, 0, "4096", NULL, 1, 100000, NULL,
     NULL, NULL, ORIGIN(max_parked),
     "Requests held at once until their part exists (blocking playlist reloads, hinted "
     "parts); more are answered 503 with `Retry-After`."},
    {ES_CONFIG_SECTION_ORIGIN, "max_parked_per_client", ES_CONFIG_UINT, 0, "128", NULL, 1,
     100000, NULL, NULL, NULL, ORIGIN(max_parked_per_client),
     "Held requests per client address (a player holds two per camera). Behind a reverse "
     "proxy every client has the proxy's address: set it to `max_parked`."},
    {ES_CONFIG_SECTION_ORIGIN, "max_parked_per_connection", ES_CONFIG_UINT, 0, "16", NULL, 1,
     1000, NULL, NULL, NULL, ORIGIN(max_parked_per_connection),
     "Held requests per connection (HTTP/2 carries several; HTTP/1.1 one at a time)."},
    {ES_CONFIG_SECTION_ORIGIN, "webrtc", ES_CONFIG_MAPPING, 0, NULL, "enabled, UDP port 8189", 0,
     0, NULL, NULL, NULL, 0,
     "WebRTC (WHEP) playback at `/whep/<camera>`: ICE-lite on one UDP port, DTLS-SRTP "
     "(docs/webrtc.md)."},

    {ES_CONFIG_SECTION_WEBRTC, "enabled", ES_CONFIG_BOOL, 0, "true", NULL, 0, 0, NULL, NULL,
     NULL, WEBRTC(enabled), "Answer WHEP offers (only while the origin is enabled too)."},
    {ES_CONFIG_SECTION_WEBRTC, "udp_port", ES_CONFIG_UINT, 0, "8189", NULL, 1, 65535, NULL, NULL,
     NULL, WEBRTC(udp_port),
     "The one UDP port every WebRTC session shares (STUN, DTLS and SRTP): open it to viewers."},
    {ES_CONFIG_SECTION_WEBRTC, "tcp_port", ES_CONFIG_UINT, 0, "8189", NULL, 0, 65535, NULL, NULL,
     NULL, WEBRTC(tcp_port),
     "The one TCP port for ICE-TCP (a passive candidate, RFC 6544), for viewers whose network "
     "blocks UDP; on the same host as `udp_port` (the same number is fine); `0` = off."},
    {ES_CONFIG_SECTION_WEBRTC, "bind", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "the host of `origin.listen`", 2, 64, NULL, check_ip, NULL, WEBRTC(bind),
     "Numeric IP address the UDP and ICE-TCP ports bind to (`0.0.0.0` for every interface)."},
    {ES_CONFIG_SECTION_WEBRTC, "additional_hosts", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "none", 2, 1024, NULL, check_ip_list, NULL, WEBRTC(additional_hosts),
     "Comma-separated IP addresses to offer as candidates instead of the bound one (a NAT's "
     "public address, a port forward)."},
    {ES_CONFIG_SECTION_WEBRTC, "max_sessions", ES_CONFIG_UINT, 0, "64", NULL, 1, 10000, NULL,
     NULL, NULL, WEBRTC(max_sessions),
     "WebRTC viewers at once, all cameras together; more are answered 503."},
    {ES_CONFIG_SECTION_WEBRTC, "max_sessions_per_camera", ES_CONFIG_UINT, 0, "16", NULL, 1,
     10000, NULL, NULL, NULL, WEBRTC(max_sessions_per_camera),
     "WebRTC viewers of one camera at once; more are answered 503."},
    {ES_CONFIG_SECTION_WEBRTC, "ice_servers", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL, "none",
     5, 1000, NULL, check_ice_servers, NULL, WEBRTC(ice_servers),
     "Comma-separated `stun:`, `turn:` or `turns:` URLs handed to browsers with each answer "
     "(`Link: <url>; rel=\"ice-server\"`), for viewers that cannot reach the UDP port "
     "directly."},
    {ES_CONFIG_SECTION_WEBRTC, "turn_username", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "none", 1, 256, NULL, check_link_param, NULL, WEBRTC(turn_username),
     "Username for the `turn:`/`turns:` URLs of `ice_servers`."},
    {ES_CONFIG_SECTION_WEBRTC, "turn_credential", ES_CONFIG_STRING, ES_CONFIG_KEEP_NULL, NULL,
     "none", 1, 256, NULL, check_link_param, NULL, WEBRTC(turn_credential),
     "Password for the `turn:`/`turns:` URLs; it is never printed."},

    {0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL, NULL, 0, NULL},
};

const struct es_config_option *es_config_options(void)
{
    return options;
}

const struct es_config_option *es_config_option_find(enum es_config_section section,
                                                     const char *name)
{
    for (const struct es_config_option *o = options; o->name; o++)
        if (o->section == section && strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

/* ---- Suggestions ---- */

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transposition),
 * case-insensitive. Words longer than 64 are never typos of a key. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64)
        return SIZE_MAX;
    size_t d[65][65];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

static bool contains_folded(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);
    for (; *haystack; haystack++) {
        size_t i = 0;
        while (i < n && haystack[i] && lower(haystack[i]) == lower(needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

/* Up to 2 edits (1 for words of 3 letters or fewer, where 2 edits make any word
 * another); failing that, the only candidate containing the word ("fps" ->
 * "target_fps"). */
static const char *nearest(const char *word, const char *const *candidates, size_t count)
{
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : 2;
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d <= limit && d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    if (best || len < 3)
        return best;
    for (size_t i = 0; i < count; i++) {
        if (contains_folded(candidates[i], word)) {
            if (best)
                return NULL; /* ambiguous: "timeout" */
            best = candidates[i];
        }
    }
    return best;
}

#define MAX_CANDIDATES 64

const char *es_config_option_suggest(unsigned section_mask, const char *word)
{
    const char *candidates[MAX_CANDIDATES];
    size_t count = 0;
    for (const struct es_config_option *o = options; o->name && count < MAX_CANDIDATES; o++)
        if (section_mask & (1u << o->section))
            candidates[count++] = o->name;
    return nearest(word, candidates, count);
}

/* ---- Conversion ---- */

/* A value as shown in a message: redacted (it may be a URL with a password put
 * under the wrong key) and cut short. */
static void show_value(const char *text, char *out, size_t out_size)
{
    char redacted[256];
    es_url_redact(text, redacted, sizeof(redacted));
    size_t len = strlen(redacted);
    if (len > 40 || strlen(text) >= sizeof(redacted))
        snprintf(out, out_size, "%.40s...", redacted);
    else
        snprintf(out, out_size, "%s", redacted);
}

static bool is_null(const char *text)
{
    return text[0] == '\0' || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
           strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

static void join_choices(const char *const *choices, char *out, size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        int n = snprintf(out + used, out_size - used, "%s%s", i ? ", " : "", choices[i]);
        if (n < 0 || (size_t)n >= out_size - used)
            return;
        used += (size_t)n;
    }
}

static size_t profile_names(const char **names, size_t cap)
{
    size_t count = 0;
    for (const struct es_profile *p = es_profiles(); p->name && count + 1 < cap; p++)
        names[count++] = p->name;
    names[count] = NULL;
    return count;
}

void es_config_option_describe(const struct es_config_option *option, char *out, size_t out_size)
{
    char list[256];
    const char *names[MAX_CANDIDATES];
    switch (option->type) {
    case ES_CONFIG_STRING:
        if (option->choices) {
            join_choices(option->choices, list, sizeof(list));
            snprintf(out, out_size, "one of: %s", list);
        } else {
            snprintf(out, out_size, "a string");
        }
        return;
    case ES_CONFIG_ENUM:
        join_choices(option->choices, list, sizeof(list));
        snprintf(out, out_size, "one of: %s", list);
        return;
    case ES_CONFIG_PROFILE:
        profile_names(names, MAX_CANDIDATES);
        join_choices(names, list, sizeof(list));
        snprintf(out, out_size, "a profile name (%s)", list);
        return;
    case ES_CONFIG_BOOL:
        snprintf(out, out_size, "true or false");
        return;
    case ES_CONFIG_UINT:
        snprintf(out, out_size, "an integer from %g to %g", option->min, option->max);
        return;
    case ES_CONFIG_SECONDS:
        if (option->flags & ES_CONFIG_AMOUNT) {
            snprintf(out, out_size, "a number from %g to %g", option->min, option->max);
            return;
        }
        snprintf(out, out_size, "a number of seconds from %g to %g%s", option->min, option->max,
                 (option->flags & ES_CONFIG_AUTO) ? ", or auto" : "");
        return;
    case ES_CONFIG_LIST:
        snprintf(out, out_size, "a list");
        return;
    case ES_CONFIG_MAPPING:
        snprintf(out, out_size, "a mapping of keys to values");
        return;
    }
    snprintf(out, out_size, "a value");
}

/* Returns the index of `text` in `choices`, or -1 with a message naming them all. */
static int match_choice(const char *what, const char *text, const char *const *choices, char *why,
                        size_t why_size)
{
    size_t count = 0;
    for (; choices[count]; count++)
        if (strcmp(choices[count], text) == 0)
            return (int)count;
    char list[256], shown[64], hint[96] = "";
    join_choices(choices, list, sizeof(list));
    show_value(text, shown, sizeof(shown));
    const char *guess = nearest(text, choices, count);
    if (guess)
        snprintf(hint, sizeof(hint), "; did you mean '%s'?", guess);
    snprintf(why, why_size, "unknown %s '%s' (valid: %s)%s", what, shown, list, hint);
    return -1;
}

static bool parse_integer(const char *text, long long *out)
{
    const char *p = text;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
        return false;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        v = text[0] == '-' ? LLONG_MIN : LLONG_MAX;
    *out = v;
    return true;
}

/* Decimal notation only: strtod alone would also take "nan", "inf" and hex. */
static bool parse_number(const char *text, double *out)
{
    const char *p = text;
    if (*p == '+' || *p == '-')
        p++;
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t fraction = strspn(p + 1, "0123456789");
        digits += fraction;
        p += 1 + fraction;
    }
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t exponent = strspn(p, "0123456789");
        if (exponent == 0)
            return false;
        p += exponent;
    }
    if (*p != '\0')
        return false;
    *out = strtod(text, NULL);
    return isfinite(*out);
}

static bool range_error(const struct es_config_option *option, const char *text, char *why,
                        size_t why_size)
{
    char shown[64];
    show_value(text, shown, sizeof(shown));
    snprintf(why, why_size, "must be from %g to %g, got %s%s", option->min, option->max, shown,
             option->range_note ? option->range_note : "");
    return false;
}

/* `parses`: the text would be valid without its quotes, so say so. */
static bool type_error(const char *expected, const char *shown, bool quoted, bool parses, char *why,
                       size_t why_size)
{
    snprintf(why, why_size, "expected %s, got %s'%s'%s", expected,
             quoted ? "the quoted string " : "", shown,
             quoted && parses ? " (write it without quotes)" : "");
    return false;
}

static void *field(void *dest, const struct es_config_option *option)
{
    return (char *)dest + option->offset;
}

bool es_config_option_set(const struct es_config_option *option, const char *text, bool quoted,
                          void *dest, char *why, size_t why_size)
{
    char expected[256], shown[64];
    es_config_option_describe(option, expected, sizeof(expected));
    show_value(text, shown, sizeof(shown));

    if (option->type == ES_CONFIG_LIST || option->type == ES_CONFIG_MAPPING) {
        snprintf(why, why_size, "expected %s, got the scalar '%s'", expected, shown);
        return false;
    }
    if (!quoted && is_null(text)) {
        snprintf(why, why_size, "has no value (expected %s)", expected);
        return false;
    }

    switch (option->type) {
    case ES_CONFIG_STRING:
    case ES_CONFIG_PROFILE: {
        size_t len = strlen(text);
        if (len == 0) {
            snprintf(why, why_size, "must not be empty");
            return false;
        }
        if (len < (size_t)option->min) {
            snprintf(why, why_size, "is too short (%zu characters, at least %g)", len,
                     option->min);
            return false;
        }
        if (option->max > 0 && len > (size_t)option->max) {
            snprintf(why, why_size, "is too long (%zu characters, at most %g)", len, option->max);
            return false;
        }
        if (option->choices && match_choice("value", text, option->choices, why, why_size) < 0)
            return false;
        if (option->type == ES_CONFIG_PROFILE && !es_profile_find(text)) {
            const char *names[MAX_CANDIDATES];
            profile_names(names, MAX_CANDIDATES);
            match_choice("profile", text, names, why, why_size);
            return false;
        }
        if (option->check && !option->check(text, why, why_size))
            return false;
        if (dest) {
            char **slot = field(dest, option);
            free(*slot);
            *slot = es_strdup(text);
        }
        return true;
    }
    case ES_CONFIG_ENUM: {
        int index = match_choice("value", text, option->choices, why, why_size);
        if (index < 0)
            return false;
        if (dest)
            *(unsigned *)field(dest, option) = (unsigned)index;
        return true;
    }
    case ES_CONFIG_BOOL: {
        /* YAML 1.1 booleans, as PyYAML (the reference design's loader) reads them. */
        static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                          "YES",  "on",   "On",   "ON",  NULL};
        static const char *const no[] = {"false", "False", "FALSE", "no",  "No",
                                         "NO",    "off",   "Off",   "OFF", NULL};
        int value = -1;
        for (size_t i = 0; yes[i]; i++)
            if (strcmp(text, yes[i]) == 0)
                value = 1;
        for (size_t i = 0; no[i]; i++)
            if (strcmp(text, no[i]) == 0)
                value = 0;
        if (quoted || value < 0)
            return type_error(expected, shown, quoted, value >= 0, why, why_size);
        if (dest)
            *(bool *)field(dest, option) = value == 1;
        return true;
    }
    case ES_CONFIG_UINT: {
        long long v;
        bool parses = parse_integer(text, &v);
        if (quoted || !parses)
            return type_error(expected, shown, quoted, parses, why, why_size);
        if (v < (long long)option->min || v > (long long)option->max)
            return range_error(option, text, why, why_size);
        if (dest)
            *(unsigned *)field(dest, option) = (unsigned)v;
        return true;
    }
    case ES_CONFIG_SECONDS: {
        double v = -1.0;
        if (!(option->flags & ES_CONFIG_AUTO) || strcmp(text, "auto") != 0) {
            bool parses = parse_number(text, &v);
            if (quoted || !parses)
                return type_error(expected, shown, quoted, parses, why, why_size);
            if (v < option->min || v > option->max)
                return range_error(option, text, why, why_size);
        }
        if (dest)
            *(double *)field(dest, option) = v;
        return true;
    }
    case ES_CONFIG_LIST:
    case ES_CONFIG_MAPPING:
        break;
    }
    return false;
}

/* ---- The reference printer ---- */

static const char *const section_titles[] = {
    [ES_CONFIG_SECTION_TOP] = "Top level (mapping form only)",
    [ES_CONFIG_SECTION_CAMERA] = "Camera (each item of the camera list)",
    [ES_CONFIG_SECTION_SETTINGS] = "Camera settings (a camera's `settings:`, or `defaults:`)",
    [ES_CONFIG_SECTION_STORAGE] = "Storage (each item of `storage:`)",
    [ES_CONFIG_SECTION_LOCAL] = "Storage backend `local`",
    [ES_CONFIG_SECTION_REMOTE] = "Storage backends `supabase` and `s3` (keys of both)",
    [ES_CONFIG_SECTION_SUPABASE] = "Storage backend `supabase`",
    [ES_CONFIG_SECTION_S3] = "Storage backend `s3` (any S3-compatible store)",
    [ES_CONFIG_SECTION_ORIGIN] = "The HTTP origin (`origin:`)",
    [ES_CONFIG_SECTION_WEBRTC] = "WebRTC playback (`origin.webrtc:`)",
};

static const char *const type_names[] = {
    [ES_CONFIG_STRING] = "string", [ES_CONFIG_BOOL] = "boolean",
    [ES_CONFIG_UINT] = "integer",  [ES_CONFIG_SECONDS] = "seconds",
    [ES_CONFIG_ENUM] = "enum",     [ES_CONFIG_PROFILE] = "profile",
    [ES_CONFIG_LIST] = "list",     [ES_CONFIG_MAPPING] = "mapping",
};

static void print_choices(FILE *out, const char *const *choices)
{
    for (size_t i = 0; choices[i]; i++)
        fprintf(out, "%s`%s`", i ? ", " : "", choices[i]);
}

static void print_range(FILE *out, const struct es_config_option *o)
{
    const char *names[MAX_CANDIDATES];
    switch (o->type) {
    case ES_CONFIG_STRING:
        if (o->choices)
            print_choices(out, o->choices);
        else
            fprintf(out, "%g..%g characters", o->min, o->max);
        return;
    case ES_CONFIG_ENUM:
        print_choices(out, o->choices);
        return;
    case ES_CONFIG_PROFILE:
        profile_names(names, MAX_CANDIDATES);
        print_choices(out, names);
        return;
    case ES_CONFIG_UINT:
    case ES_CONFIG_SECONDS:
        fprintf(out, "%g..%g%s", o->min, o->max, (o->flags & ES_CONFIG_AUTO) ? " or `auto`" : "");
        return;
    case ES_CONFIG_BOOL:
        fprintf(out, "`true`, `false`");
        return;
    case ES_CONFIG_LIST:
    case ES_CONFIG_MAPPING:
        return;
    }
}

void es_config_print_reference(void *file)
{
    FILE *out = file;
    fprintf(out, "<!-- Generated by es_config_print_reference() from the option table in "
                 "src/config/options.c. Edit the table, not this text. -->\n");
    for (int section = ES_CONFIG_SECTION_TOP; section < ES_CONFIG_SECTION_COUNT; section++) {
        fprintf(out, "\n#### %s\n\n", section_titles[section]);
        fprintf(out, "| Key | Type | Default | Range | Description |\n");
        fprintf(out, "|---|---|---|---|---|\n");
        for (const struct es_config_option *o = options; o->name; o++) {
            if ((int)o->section != section)
                continue;
            fprintf(out, "| `%s` | %s | ", o->name,
                    (o->flags & ES_CONFIG_AMOUNT) ? "number" : type_names[o->type]);
            if (o->default_doc)
                fprintf(out, "%s", o->default_doc);
            else if (o->flags & ES_CONFIG_REQUIRED)
                fprintf(out, "**required**");
            else if (o->default_value)
                fprintf(out, "`%s`", o->default_value);
            else
                fprintf(out, "none");
            fprintf(out, " | ");
            print_range(out, o);
            fprintf(out, " | %s |\n", o->help);
        }
    }

    fprintf(out, "\n#### Latency profiles (`profile:`)\n\n");
    fprintf(out, "| Profile | `segment_duration` | `segments_to_keep` | Player sync count | Player "
                 "max latency count | Part target |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (const struct es_profile *p = es_profiles(); p->name; p++) {
        fprintf(out, "| `%s` | %g s | %u | ", p->name, p->segment_duration, p->segments_to_keep);
        if (p->player_sync_count)
            fprintf(out, "%u | %u | ", p->player_sync_count, p->player_max_latency_count);
        else
            fprintf(out, "0 (PART-HOLD-BACK) | 0 (PART-HOLD-BACK) | ");
        if (p->part_target > 0)
            fprintf(out, "%g s |\n", p->part_target);
        else
            fprintf(out, "none |\n");
    }
}
