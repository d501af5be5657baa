/* The one place where FFmpeg version differences and AVERROR conversion live.
 * Built against Debian 12's FFmpeg 5.1 (libavformat 59, libavcodec 59). */
#ifndef ES_CORE_FFMPEG_COMPAT_H
#define ES_CORE_FFMPEG_COMPAT_H

#include "core/error.h"

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>

/* Maps an AVERROR to our enum; the caller logs the original with av_err2str. */
static inline enum es_err es_from_averror(int averr)
{
    if (averr >= 0)
        return ES_OK;
    if (averr == AVERROR_EOF)
        return ES_ERR_EOF;
    if (averr == AVERROR(ENOMEM))
        return ES_ERR_NOMEM;
    if (averr == AVERROR(ETIMEDOUT) || averr == AVERROR_EXIT)
        return ES_ERR_TIMEOUT;
    if (averr == AVERROR(EINVAL) || averr == AVERROR_INVALIDDATA)
        return ES_ERR_INVALID;
    return ES_ERR_IO;
}

/* av_err2str is a compound-literal macro that C++/some analyzers dislike; this
 * is the same with an explicit buffer. */
static inline const char *es_av_err(int averr, char *buf, size_t size)
{
    av_strerror(averr, buf, size);
    return buf;
}

/* FFmpeg 5.1 introduced AVChannelLayout (ch_layout) and deprecated the old
 * channels/channel_layout pair; we only use the new API. */
#if LIBAVCODEC_VERSION_MAJOR < 59
#error "edgestream needs FFmpeg 5.1 or newer (libavcodec 59)"
#endif

#endif
