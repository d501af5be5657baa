#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int current_level = ES_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
/* sd-daemon(3) SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG. */
static const char *const journal_prefixes[] = {"<3>", "<4>", "<6>", "<7>"};
static atomic_bool journal;

bool es_log_detect_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    char tail;
    bool match = stream && sscanf(stream, "%llu:%llu%c", &dev, &ino, &tail) == 2 &&
                 fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                 (unsigned long long)st.st_ino == ino;
    atomic_store(&journal, match);
    return match;
}

const char *es_log_prefix(enum es_log_level level)
{
    return atomic_load(&journal) ? journal_prefixes[level] : "";
}

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

    /* Format into one buffer so that lines from different threads never interleave. */
    char line[2048];
    int n;
    if (atomic_load(&journal)) {
        /* The journal stamps each line itself and reads its priority from
         * the prefix. */
        n = snprintf(line, sizeof(line), "%s%s ", journal_prefixes[level], component);
    } else {
        struct timespec now;
        struct tm utc;
        char stamp[32];
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &utc);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
        n = snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s ", stamp, now.tv_nsec / 1000000,
                     level_names[level], component);
    }
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
