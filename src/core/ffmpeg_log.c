#include "core/ffmpeg_log.h"

#include "core/log.h"

#include <libavutil/log.h>
#include <stdio.h>
#include <string.h>

static void forward(void *avcl, int level, const char *fmt, va_list ap)
{
    /* A custom callback sees every call: the level filter is ours to apply. */
    if (level > av_log_get_level())
        return;
    enum es_log_level ours;
    if (level <= AV_LOG_ERROR)
        ours = ES_LOG_WARN; /* a library error is ours to judge: callers log the outcome */
    else if (level <= AV_LOG_WARNING)
        ours = ES_LOG_INFO;
    else
        ours = ES_LOG_DEBUG;
    if (ours > es_log_get_level())
        return;

    char line[1024];
    int print_prefix = 1;
    av_log_format_line2(avcl, level, fmt, ap, line, sizeof(line), &print_prefix);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (len)
        es_log(ours, "ffmpeg", "msg=\"%s\"", line);
}

void es_ffmpeg_log_init(void)
{
    /* Verbose and debug output of the libraries is per frame: never wanted
     * unless we are debugging ourselves. */
    av_log_set_level(es_log_get_level() >= ES_LOG_DEBUG ? AV_LOG_VERBOSE : AV_LOG_WARNING);
    av_log_set_callback(forward);
}
