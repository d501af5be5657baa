/* Typed configuration: the reference design's cameras.yaml (a top-level list of
 * cameras) or the mapping form (cameras: beside defaults:, storage:, ...).
 * The only module that includes <yaml.h>. Every other module takes these
 * structs, already validated and with defaults applied. */
#ifndef ES_CONFIG_CONFIG_H
#define ES_CONFIG_CONFIG_H

#include "core/error.h"

#include <stdbool.h>
#include <stddef.h>

enum es_transcode_mode {
    ES_TRANSCODE_X264 = 0, /* decode, drop to fps, scale, libx264 */
    ES_TRANSCODE_COPY,     /* passthrough of the camera's H.264 */
};

enum es_audio_mode {
    ES_AUDIO_AUTO = 0, /* AAC when the camera has audio */
    ES_AUDIO_OFF,
};

/* Latency profiles: the reference design's table plus `ll`. */
struct es_profile {
    const char *name;
    double segment_duration; /* seconds */
    unsigned segments_to_keep;
    unsigned player_sync_count;        /* hls.js liveSyncDurationCount */
    unsigned player_max_latency_count; /* hls.js liveMaxLatencyDurationCount */
    double part_target;                /* seconds; 0 = no LL-HLS parts */
};

/* Returns NULL for an unknown name. */
const struct es_profile *es_profile_find(const char *name);
/* NULL-terminated iteration: es_profiles()[i].name == NULL ends the table. */
const struct es_profile *es_profiles(void);

struct es_camera_config {
    char *id;       /* required; [A-Za-z0-9_-]{1,64}, used in paths */
    char *name;     /* defaults to id */
    char *rtsp_url; /* rtsp://, rtsps://, v4l2:///dev/videoN, file:///path, test:// */
    char *use_case; /* carried through from the reference design */
    char *location; /* storage path component, default "location_1" */
    char *profile;  /* NULL when none was named */
    bool enabled;   /* default true */

    unsigned target_width;            /* default 854; odd values are rounded up to even */
    unsigned target_fps;              /* default 15, 1..120 */
    double segment_duration;          /* default 2 s, 0.5..60 */
    unsigned segments_to_keep;        /* default 5, 3..1000 */
    enum es_transcode_mode transcode; /* default x264 */
    enum es_audio_mode audio;         /* default auto */
    unsigned audio_bitrate;           /* default 128000 */

    unsigned connect_timeout_ms; /* default 5000 */
    unsigned read_timeout_ms;    /* default 5000 */
    unsigned reconnect_min_ms;   /* default 100 */
    unsigned reconnect_max_ms;   /* default 1000: a LAN camera coming back is seen quickly */
    bool rtsp_allow_basic;       /* default false: no Basic auth over plain rtsp:// */
    double delete_grace;         /* seconds; < 0 means playlist duration + 30 s (default) */
    double part_target;          /* LL-HLS part target, seconds; 0 = none (the `ll` profile sets it) */
    /* Recording (docs/recording.md) */
    bool record;                 /* default false */
    unsigned record_days;        /* default 7 */
    double record_max_gb;        /* per camera, GB (1e9 bytes); 0 = no budget (default) */
    double record_min_free_gb;   /* free-space floor of the recordings' file system, default 1 */
};

struct es_local_storage {
    bool enabled; /* true unless storage: lists backends without `local` */
    char *root;   /* default "streams" (relative: see the option's help) */
};

/* Keys every remote storage backend (supabase, s3) shares. It is the first
 * member of each backend's struct, so one option row serves both. */
struct es_remote_storage {
    bool enabled;
    char *segment_cache_control;  /* default "public, max-age=31536000, immutable" */
    char *playlist_cache_control; /* default "no-cache" */
    unsigned max_backlog_mb;      /* unsent segment bytes kept per camera, default 64 */
    unsigned connections;         /* per host, default 4 */
    unsigned connect_timeout_ms;  /* default 5000 */
    unsigned stall_timeout_ms;    /* no progress for this long fails a request, default 5000 */
    unsigned retry_max_ms;        /* longest backoff between transient retries, default 2000 */
    unsigned recheck_s;           /* after a permanent error, default 60 */
    unsigned delete_interval_s;   /* deletes are batched this often, default 10 */
};

struct es_supabase_storage {
    struct es_remote_storage remote; /* first: see es_remote_storage */
    char *url;    /* project URL; $SUPABASE_URL when the item has none */
    char *key;    /* service key; $SUPABASE_KEY when the item has none. Never printed. */
    char *bucket; /* default "streams" */
    bool register_cameras; /* keep the `cameras` table current (app/registry.h), default true */
    unsigned heartbeat_s;  /* last_seen_at of a live camera is renewed this often, default 30 */
};

enum es_s3_url_style {
    ES_S3_URL_AUTO = 0, /* virtual-host for AWS (no endpoint:), path-style otherwise */
    ES_S3_URL_PATH,     /* https://endpoint/bucket/key */
    ES_S3_URL_VIRTUAL,  /* https://bucket.endpoint/key */
};

struct es_s3_storage {
    struct es_remote_storage remote; /* first: see es_remote_storage */
    char *endpoint;          /* default https://s3.<region>.amazonaws.com */
    char *region;            /* default us-east-1 */
    char *bucket;            /* required */
    enum es_s3_url_style url_style;
    char *access_key_id;     /* $AWS_ACCESS_KEY_ID when the item has none */
    char *secret_access_key; /* $AWS_SECRET_ACCESS_KEY when the item has none. Never printed. */
    char *session_token;     /* $AWS_SESSION_TOKEN; optional. Never printed. */
};

/* WebRTC egress on the origin (`origin.webrtc:`, src/webrtc/, docs/webrtc.md). */
struct es_webrtc_settings {
    bool enabled;                     /* default true */
    unsigned udp_port;                /* default 8189: every session shares it */
    unsigned tcp_port;                /* default 8189: ICE-TCP (RFC 6544) for all; 0 = off */
    char *bind;                       /* NULL = the host of origin.listen */
    char *additional_hosts;           /* comma-separated IPs to advertise; NULL = none */
    unsigned max_sessions;            /* default 64 */
    unsigned max_sessions_per_camera; /* default 16 */
    char *ice_servers;     /* comma-separated stun:/turn:/turns: URLs for browsers; NULL = none */
    char *turn_username;   /* for the turn: URLs; NULL = none */
    char *turn_credential; /* NULL = none. Never printed. */
};

/* The HTTP origin (`origin:`, src/origin/). */
struct es_origin_settings {
    bool enabled;             /* default true */
    char *listen;             /* default "127.0.0.1:8080" */
    char *token;              /* bearer token; NULL = none. Never printed. */
    char *tls_cert;           /* PEM files; both or neither (HTTPS + HTTP/2) */
    char *tls_key;
    bool http2;               /* with TLS, offer HTTP/2 by ALPN; default true */
    char *cors;               /* Access-Control-Allow-Origin, default "off" (none) */
    char *web_root;           /* the player's files; NULL = auto (main.c finds them) */
    unsigned max_connections; /* default 4096 */
    unsigned idle_timeout_ms; /* default 10000 */
    unsigned max_parked;      /* default 4096 */
    unsigned max_parked_per_client;     /* default 128 */
    unsigned max_parked_per_connection; /* default 16 */
    struct es_webrtc_settings webrtc; /* origin.webrtc: */
};

struct es_config {
    char *path;                       /* the file it came from */
    struct es_camera_config *cameras; /* in file order */
    size_t camera_count;
    struct es_local_storage local;
    struct es_supabase_storage supabase;
    struct es_s3_storage s3;
    struct es_origin_settings origin;
    char *log_level; /* NULL = info */
    char *record_root; /* NULL = "recordings" (relative: see the option's help) */
};

/* Where a config error is. line/column are 1-based; 0 when unknown (e.g. file
 * unreadable). `key` is the dotted key path, e.g. "cameras[0].settings.target_fps". */
struct es_config_error {
    char file[512];
    unsigned line, column;
    char key[128];
    char message[512]; /* includes "did you mean 'x'?" for typos */
};

/* Loads and validates `path`. On failure returns ES_ERR_CONFIG (or ES_ERR_IO
 * when unreadable) and fills `err`. `out` is owned by the caller: es_config_free(). */
enum es_err es_config_load(const char *path, struct es_config *out, struct es_config_error *err);
/* Same from a buffer; `name` is used as the file name in errors. */
enum es_err es_config_load_string(const char *name, const char *text, size_t len,
                                  struct es_config *out, struct es_config_error *err);
void es_config_free(struct es_config *config); /* zeroed or NULL is fine */

/* Formats "file:line:column: key: message" into out. */
void es_config_error_format(const struct es_config_error *err, char *out, size_t out_size);

const struct es_camera_config *es_config_find_camera(const struct es_config *config,
                                                     const char *id);

/* The reference design's equivalent ffmpeg command for a camera, writing HLS into
 * `output_dir`, as one shell line (URL credentials redacted unless `reveal`). */
void es_config_ffmpeg_command(const struct es_camera_config *camera, const char *output_dir,
                              bool reveal_secrets, char *out, size_t out_size);

/* Prints the option reference (one row per key: name, default, range, help) as
 * Markdown; docs/configuration.md is checked against it. */
void es_config_print_reference(void *file /* FILE * */);

/* ---- Source URLs ------------------------------------------------------------
 * rtsp_url names every kind of source, not only RTSP. The config validates it
 * with this parser; the source stage and es_config_ffmpeg_command() dispatch on
 * its result, so the accepted forms live in one place. */

enum es_config_source_kind {
    ES_CONFIG_SOURCE_RTSP = 0, /* rtsp://host/..., rtsps://host/... */
    ES_CONFIG_SOURCE_V4L2,     /* v4l2:///dev/video0 (any absolute path under /dev/) */
    ES_CONFIG_SOURCE_FILE,     /* file:///abs/path or file:relative/path, looped */
    ES_CONFIG_SOURCE_TEST,     /* test:// or test://?width=1280&height=720&fps=25 */
};

struct es_config_source {
    enum es_config_source_kind kind;
    const char *path; /* V4L2 device or FILE path: points into the parsed URL; else NULL */
    unsigned width, height, fps; /* TEST only: the pattern asked for (default 1280x720 at 25) */
};

/* Parses `url` as the config accepts it. Returns false, with the reason in `why`
 * (credentials redacted), for anything the config would reject. */
bool es_config_source_parse(const char *url, struct es_config_source *out, char *why,
                            size_t why_size);

/* ---- The option table ---------------------------------------------------------
 * One row per key: its default, range and help. It drives validation and
 * defaults in the loader and es_config_print_reference(). Shared by the files of
 * src/config/; other modules read the typed structs above instead. */

enum es_config_section {
    ES_CONFIG_SECTION_TOP = 0,  /* keys of the top-level mapping (mapping form) */
    ES_CONFIG_SECTION_CAMERA,   /* keys of each camera */
    ES_CONFIG_SECTION_SETTINGS, /* keys of a camera's settings:, also valid in defaults: */
    ES_CONFIG_SECTION_STORAGE,  /* keys of every storage: item */
    ES_CONFIG_SECTION_LOCAL,    /* keys of a storage: item with backend: local */
    ES_CONFIG_SECTION_REMOTE,   /* keys of storage: items with backend: supabase or s3 */
    ES_CONFIG_SECTION_SUPABASE, /* keys of a storage: item with backend: supabase */
    ES_CONFIG_SECTION_S3,       /* keys of a storage: item with backend: s3 */
    ES_CONFIG_SECTION_ORIGIN,   /* keys of origin: (the HTTP origin) */
    ES_CONFIG_SECTION_WEBRTC,   /* keys of origin.webrtc: (WHEP) */
    ES_CONFIG_SECTION_COUNT     /* not a section: loops over sections stop here */
};

enum es_config_option_type {
    ES_CONFIG_STRING = 0, /* char *; `choices` restricts it when set */
    ES_CONFIG_BOOL,       /* bool */
    ES_CONFIG_UINT,       /* unsigned */
    ES_CONFIG_SECONDS,    /* double */
    ES_CONFIG_ENUM,       /* an enum field, stored as the index into `choices` */
    ES_CONFIG_PROFILE,    /* char *, one of es_profiles() */
    ES_CONFIG_LIST,       /* a YAML sequence; no field */
    ES_CONFIG_MAPPING,    /* a YAML mapping; no field */
};

#define ES_CONFIG_REQUIRED 0x1u  /* the key must be present */
#define ES_CONFIG_AUTO 0x2u      /* SECONDS: `auto` is accepted and stored as -1 */
#define ES_CONFIG_EVEN 0x4u      /* UINT: the loader rounds odd values up, with a warning */
#define ES_CONFIG_KEEP_NULL 0x8u /* the default is documented, the field stays NULL */
#define ES_CONFIG_AMOUNT 0x10u   /* SECONDS: a plain number (GB, ...), not seconds, in messages and docs */

struct es_config_option {
    enum es_config_section section;
    const char *name;
    enum es_config_option_type type;
    unsigned flags;
    const char *default_value;  /* as YAML text, applied by the loader; NULL = none */
    const char *default_doc;    /* shown instead of default_value when set */
    double min, max;            /* UINT, SECONDS: value range; STRING: length range */
    const char *const *choices; /* ENUM, restricted STRING: NULL-terminated */
    /* STRING: further validation; false with a reason in `why`. */
    bool (*check)(const char *value, char *why, size_t why_size);
    const char *range_note; /* why the range is what it is, appended to range errors */
    size_t offset;          /* field in es_config (TOP), es_camera_config (CAMERA,
                               SETTINGS), es_local_storage (LOCAL), es_remote_storage
                               (REMOTE), es_supabase_storage (SUPABASE) or
                               es_s3_storage (S3) */
    const char *help;
};

/* The table, terminated by a row whose name is NULL. */
const struct es_config_option *es_config_options(void);
/* The row for `name` in `section`, or NULL. */
const struct es_config_option *es_config_option_find(enum es_config_section section,
                                                     const char *name);
/* The valid key nearest to `word` (a typo: small edit distance, or a unique key
 * containing it) among the sections in `section_mask` (bit 1u << section), or NULL. */
const char *es_config_option_suggest(unsigned section_mask, const char *word);
/* Converts the YAML scalar `text` (`quoted` when it was written in quotes, which
 * makes it a string) for `option`, checks its type and range and stores it in
 * `dest`, the struct of the option's section (NULL: check only). Returns false
 * with the reason in `why` (values quoted in it are redacted). Strings are copied. */
bool es_config_option_set(const struct es_config_option *option, const char *text, bool quoted,
                          void *dest, char *why, size_t why_size);
/* What `option` takes, for type errors: e.g. "an integer from 1 to 120". */
void es_config_option_describe(const struct es_config_option *option, char *out, size_t out_size);

#endif
