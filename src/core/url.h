/* URL helpers that keep secrets out of logs. */
#ifndef ES_CORE_URL_H
#define ES_CORE_URL_H

#include <stddef.h>

/* Copies `url` into `out` with any password in the userinfo replaced by "***"
 * and every query parameter value and any fragment replaced by "***" (tokens
 * travel there).
 * rtsp://admin:hunter2@10.0.0.5/live?token=x -> rtsp://admin:***@10.0.0.5/live?token=*** */
void es_url_redact(const char *url, char *out, size_t out_size);

#endif
