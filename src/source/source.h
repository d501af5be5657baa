/* A camera connection: RTSP over TCP, V4L2, a looping file or a generated test
 * pattern, all through libavformat/libavdevice. One es_source is one connection
 * attempt; reconnecting (with backoff) is the caller's loop, so this module
 * never sleeps or retries on its own.
 *
 * Every blocking call is bounded: opening by connect_timeout_ms, each read by
 * read_timeout_ms, and both return ES_ERR_STOPPED as soon as *stop is set. */
#ifndef ES_SOURCE_SOURCE_H
#define ES_SOURCE_SOURCE_H

#include "core/error.h"

#include <libavformat/avformat.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum es_source_kind {
    ES_SOURCE_RTSP = 0,
    ES_SOURCE_V4L2,
    ES_SOURCE_FILE,
    ES_SOURCE_TEST_PATTERN,
};

/* Packets come out with stream_index remapped to these. */
enum es_media {
    ES_MEDIA_VIDEO = 0,
    ES_MEDIA_AUDIO = 1,
};

struct es_source_config {
    const char *camera_id;     /* for logs */
    const char *url;           /* rtsp://, rtsps://, v4l2:///dev/videoN, file:..., test:// */
    unsigned connect_timeout_ms;
    unsigned read_timeout_ms;
    bool want_audio;
    const atomic_bool *stop;   /* shutdown flag, polled by FFmpeg's interrupt callback */
    bool rtsp_allow_basic;     /* settings.rtsp_allow_basic: see es_rtsp_client_config */
};

struct es_source;

/* Classifies a URL; returns -1 for an unsupported scheme. */
int es_source_kind_of(const char *url);

/* ES_OK, or ES_ERR_AUTH when the camera refused the credentials (also: none
 * given, or only Basic offered without rtsp_allow_basic), ES_ERR_UNSUPPORTED,
 * ES_ERR_STOPPED, ES_ERR_SOURCE for anything else. */
enum es_err es_source_open(const struct es_source_config *config, struct es_source **out);
void es_source_close(struct es_source *source); /* NULL is fine */

/* Codec parameters and time bases of the selected streams; audio is NULL when
 * the camera sends none (or want_audio was false). Valid until close. */
const AVStream *es_source_video(const struct es_source *source);
const AVStream *es_source_audio(const struct es_source *source);
enum es_source_kind es_source_kind(const struct es_source *source);

/* Reads the next packet into `pkt` (caller-owned, unreferenced on entry).
 * `capture_us` receives the best wall-clock estimate of when the packet was
 * captured: the camera's RTCP sender-report clock when libavformat exposes it
 * (AV_PKT_DATA_PRFT), else the arrival time. File and test-pattern sources are
 * paced to real time and loop (files) with continuous timestamps. */
enum es_err es_source_read(struct es_source *source, AVPacket *pkt, int64_t *capture_us,
                           bool *capture_from_camera_clock);

/* The delay before a camera's next connection attempt. Ordinary failures
 * double it from the camera's reconnect_min_ms up to reconnect_max_ms. After
 * an authentication refusal it is minutes instead (from
 * ES_SOURCE_AUTH_BACKOFF_MIN_MS, doubling up to ..._MAX_MS): retrying wrong
 * credentials every second floods the log and can lock the camera's account. */
#define ES_SOURCE_AUTH_BACKOFF_MIN_MS 60000u
#define ES_SOURCE_AUTH_BACKOFF_MAX_MS 900000u

struct es_source_backoff {
    unsigned min_ms, max_ms; /* the camera's reconnect_min_ms / _max_ms */
    unsigned delay_ms;       /* the next ordinary delay */
    unsigned auth_delay_ms;  /* the next delay after an auth refusal */
    enum es_err last;        /* ES_OK: no failure since init or reset */
};

void es_source_backoff_init(struct es_source_backoff *b, unsigned min_ms, unsigned max_ms);
/* A connection attempt failed with `err`: returns how long to wait. *changed
 * is true when `err` differs from the previous failure (or follows a reset):
 * log the state then, and not on every attempt. */
unsigned es_source_backoff_failed(struct es_source_backoff *b, enum es_err err, bool *changed);
/* A connection streamed for a while: the next failure starts from scratch. */
void es_source_backoff_reset(struct es_source_backoff *b);

#endif
