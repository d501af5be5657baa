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
};

struct es_source;

/* Classifies a URL; returns -1 for an unsupported scheme. */
int es_source_kind_of(const char *url);

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

#endif
