/* One logging call for the whole daemon: a level, a component and a message made
 * of key=value fields, e.g.
 *
 *   es_log(ES_LOG_INFO, "source", "camera=%s event=connected url=%s", id, safe_url);
 *
 * Lines go to stderr as `<UTC time> <LEVEL> <component> <message>`. Callers never
 * pass secrets: URLs go through es_url_redact() first. Thread-safe. */
#ifndef ES_CORE_LOG_H
#define ES_CORE_LOG_H

enum es_log_level {
    ES_LOG_ERROR = 0,
    ES_LOG_WARN,
    ES_LOG_INFO,
    ES_LOG_DEBUG,
};

void es_log_set_level(enum es_log_level level);
enum es_log_level es_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int es_log_level_parse(const char *name);

void es_log(enum es_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
