/* One logging call for the whole daemon: a level, a component and a message made
 * of key=value fields, e.g.
 *
 *   es_log(ES_LOG_INFO, "source", "camera=%s event=connected url=%s", id, safe_url);
 *
 * Lines go to stderr as `<UTC time> <LEVEL> <component> <message>`; under the
 * journal (es_log_detect_journal) as `<N><component> <message>`, where <N> is
 * the sd-daemon(3) priority prefix (3 error, 4 warning, 6 info, 7 debug) and
 * the journal keeps the time. Callers never pass secrets: URLs go through
 * es_url_redact() first. Thread-safe. */
#ifndef ES_CORE_LOG_H
#define ES_CORE_LOG_H

#include <stdbool.h>

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

/* Switches to the journal's format when stderr is the stream systemd named in
 * $JOURNAL_STREAM (its "device:inode" matches stderr's, as systemd.exec(5)
 * asks: a stderr redirected elsewhere by a child's parent keeps the plain
 * format). Call once, before other threads log. Returns whether it did. */
bool es_log_detect_journal(void);

/* "<3>" and so on under the journal, else "": for the few lines written to
 * stderr without es_log (usage and config errors). */
const char *es_log_prefix(enum es_log_level level);

void es_log(enum es_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
