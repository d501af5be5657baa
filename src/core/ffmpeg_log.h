/* Routes FFmpeg's own log lines (libavformat, libx264 through libavcodec, ...)
 * through es_log under the component "ffmpeg", so that there is one log format
 * and one level setting. Call once at start-up, after es_log_set_level(). */
#ifndef ES_CORE_FFMPEG_LOG_H
#define ES_CORE_FFMPEG_LOG_H

void es_ffmpeg_log_init(void);

#endif
