#include "record/layout.h"

#include "core/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void utc_of(int64_t ms, struct tm *tm, unsigned *millis)
{
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    *millis = (unsigned)(ms - s * 1000);
    time_t t = (time_t)s;
    gmtime_r(&t, tm);
}

void es_record_name(const struct es_record_entry *e, char *out, size_t size)
{
    struct tm tm;
    unsigned millis;
    utc_of(e->start_ms, &tm, &millis);
    snprintf(out, size, "%04d%02d%02dT%02d%02d%02d.%03uZ_%" PRIu32 "_%" PRIu64 "%s.ts",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis,
             e->duration_ms, e->msn, e->discontinuity ? "_d" : "");
}

void es_record_rel_path(const struct es_record_entry *e, char *out, size_t size)
{
    struct tm tm;
    unsigned millis;
    utc_of(e->start_ms, &tm, &millis);
    char name[ES_RECORD_NAME_MAX];
    es_record_name(e, name, sizeof(name));
    snprintf(out, size, "%04d-%02d-%02d/%02d/%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, name);
}

static bool digits(const char *p, size_t n, long long *v)
{
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return true;
}

/* Plain decimal, no sign, no leading zeros, fits `max`. */
static const char *decimal(const char *p, uint64_t max, uint64_t *out)
{
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return NULL;
        v = v * 10 + d;
        p++;
    }
    *out = v;
    return p;
}

bool es_record_name_parse(const char *name, struct es_record_entry *out)
{
    size_t len = strnlen(name, ES_RECORD_NAME_MAX);
    if (len < 24 || len >= ES_RECORD_NAME_MAX || name[8] != 'T' || name[15] != '.' ||
        name[19] != 'Z' || name[20] != '_')
        return false;
    long long y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
    if (!digits(name, 4, &y) || !digits(name + 4, 2, &mo) || !digits(name + 6, 2, &d) ||
        !digits(name + 9, 2, &h) || !digits(name + 11, 2, &mi) || !digits(name + 13, 2, &s) ||
        !digits(name + 16, 3, &ms))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return false;
    struct tm tm = {.tm_year = (int)y - 1900,
                    .tm_mon = (int)mo - 1,
                    .tm_mday = (int)d,
                    .tm_hour = (int)h,
                    .tm_min = (int)mi,
                    .tm_sec = (int)s};
    time_t t = timegm(&tm);
    struct es_record_entry e = {.start_ms = (int64_t)t * 1000 + ms};
    uint64_t dur, msn;
    const char *p = decimal(name + 21, UINT32_MAX, &dur);
    if (!p || *p != '_')
        return false;
    p = decimal(p + 1, UINT64_MAX, &msn);
    if (!p)
        return false;
    e.duration_ms = (uint32_t)dur;
    e.msn = msn;
    if (strcmp(p, "_d.ts") == 0)
        e.discontinuity = true;
    else if (strcmp(p, ".ts") != 0)
        return false;
    /* Exactly what we would write (this also refuses 31 February). */
    char again[ES_RECORD_NAME_MAX];
    es_record_name(&e, again, sizeof(again));
    if (strcmp(again, name) != 0)
        return false;
    *out = e;
    return true;
}

bool es_record_day_dir(const char *name, int64_t *day_start_ms)
{
    long long y = 0, mo = 0, d = 0;
    if (strlen(name) != 10 || name[4] != '-' || name[7] != '-' || !digits(name, 4, &y) ||
        !digits(name + 5, 2, &mo) || !digits(name + 8, 2, &d) || y < 1970 || mo < 1 || mo > 12 ||
        d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = (int)y - 1900, .tm_mon = (int)mo - 1, .tm_mday = (int)d};
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != (int)d)
        return false;
    *day_start_ms = (int64_t)t * 1000;
    return true;
}

bool es_record_hour_dir(const char *name, unsigned *hour)
{
    long long h = 0;
    if (strlen(name) != 2 || !digits(name, 2, &h) || h > 23)
        return false;
    *hour = (unsigned)h;
    return true;
}

static size_t scan_hour(int dir_fd, es_record_scan_fn fn, void *opaque)
{
    DIR *dir = fdopendir(dir_fd);
    if (!dir) {
        close(dir_fd);
        return 0;
    }
    size_t seen = 0;
    struct dirent *d;
    while ((d = readdir(dir))) {
        size_t len = strlen(d->d_name);
        if (d->d_name[0] == '.' && len > 4 && strcmp(d->d_name + len - 4, ".tmp") == 0) {
            /* A write a crash cut short: never renamed, never indexed. */
            struct es_record_entry e;
            char inner[ES_RECORD_NAME_MAX];
            if (len - 5 < sizeof(inner)) {
                memcpy(inner, d->d_name + 1, len - 5);
                inner[len - 5] = '\0';
                if (es_record_name_parse(inner, &e))
                    unlinkat(dirfd(dir), d->d_name, 0);
            }
            continue;
        }
        struct es_record_entry e;
        if (!es_record_name_parse(d->d_name, &e))
            continue; /* not ours: left alone */
        struct stat st;
        if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        e.bytes = (uint64_t)st.st_size;
        fn(opaque, &e);
        seen++;
    }
    closedir(dir);
    return seen;
}

size_t es_record_scan(const char *camera_dir, int64_t from_ms, int64_t to_ms, es_record_scan_fn fn,
                      void *opaque)
{
    DIR *days = opendir(camera_dir);
    if (!days)
        return 0;
    size_t seen = 0;
    struct dirent *d;
    while ((d = readdir(days))) {
        int64_t day_ms;
        if (!es_record_day_dir(d->d_name, &day_ms))
            continue;
        if (day_ms + 24 * 3600000LL <= from_ms || day_ms >= to_ms)
            continue;
        int day_fd =
            openat(dirfd(days), d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (day_fd < 0)
            continue;
        DIR *hours = fdopendir(day_fd);
        if (!hours) {
            close(day_fd);
            continue;
        }
        struct dirent *hd;
        while ((hd = readdir(hours))) {
            unsigned hour;
            if (!es_record_hour_dir(hd->d_name, &hour))
                continue;
            int64_t hour_ms = day_ms + (int64_t)hour * 3600000LL;
            if (hour_ms + 3600000LL <= from_ms || hour_ms >= to_ms)
                continue;
            int fd =
                openat(dirfd(hours), hd->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                seen += scan_hour(fd, fn, opaque);
        }
        closedir(hours);
    }
    closedir(days);
    return seen;
}
