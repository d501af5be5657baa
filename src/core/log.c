#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int current_level = ES_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void es_log_set_level(enum es_log_level level)
{
    atomic_store(&current_level, (int)level);
}

enum es_log_level es_log_get_level(void)
{
    return (enum es_log_level)atomic_load(&current_level);
}

int es_log_level_parse(const char *name)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, lower[i]) == 0)
            return i;
    return -1;
}

void es_log(enum es_log_level level, const char *component, const char *fmt, ...)
{
    if ((int)level > atomic_load(&current_level))
        return;

    struct timespec now;
    struct tm utc;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);

    /* Format into one buffer so that lines from different threads never interleave. */
    char line[2048];
    int n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s ", stamp, now.tv_nsec / 1000000,
                     level_names[level], component);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    fputs(line, stderr);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
}
