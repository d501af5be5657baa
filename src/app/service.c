#include "app/service.h"

#include "core/alloc.h"
#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The notify protocol itself is a stable systemd interface (sd_notify(3),
 * NOTES: one datagram with the state string to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, "@" meaning the abstract namespace). Speaking it directly
 * costs thirty lines and no library: libsystemd would add a run-time
 * dependency for one sendto(). */
struct es_service {
    int fd;
    struct sockaddr_un addr;
    socklen_t addr_len;
    int64_t watchdog_us;    /* 0 = no watchdog */
    int64_t last_ping_us;   /* mono time of the last WATCHDOG=1 */
    int64_t last_status_us; /* mono time STATUS= was last sent */
    bool withheld;          /* a thread is stalled: pings are held back */
    char status[256];       /* the last STATUS= sent */
};

/* The status is re-sent at most this often, and at least this often when
 * nothing changed (so `systemctl status` shows figures that are fresh). */
#define STATUS_MIN_INTERVAL_US 2000000
#define STATUS_MAX_INTERVAL_US 30000000

static void send_state(struct es_service *s, const char *state)
{
    if (sendto(s->fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&s->addr,
               s->addr_len) < 0)
        es_log(ES_LOG_DEBUG, "service", "event=notify_failed error=\"%s\"", strerror(errno));
}

int64_t es_service_watchdog_usec(const char *watchdog_usec, const char *watchdog_pid, long pid)
{
    if (!watchdog_usec || !*watchdog_usec)
        return 0;
    /* sd_watchdog_enabled(3): WATCHDOG_PID, when set, names the process the
     * watchdog is meant for; a child that inherited the variables ignores it. */
    if (watchdog_pid && *watchdog_pid) {
        char *end;
        errno = 0;
        long named = strtol(watchdog_pid, &end, 10);
        if (errno || *end || named != pid)
            return 0;
    }
    char *end;
    errno = 0;
    long long usec = strtoll(watchdog_usec, &end, 10);
    if (errno || *end || usec <= 0)
        return 0;
    return (int64_t)usec;
}

struct es_service *es_service_open(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return NULL;
    struct es_service *s = es_calloc(1, sizeof(*s));
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(s->addr.sun_path)) {
        es_log(ES_LOG_WARN, "service", "event=notify_socket_unusable reason=\"not an absolute "
                                       "or abstract socket path\"");
        free(s);
        return NULL;
    }
    s->addr.sun_family = AF_UNIX;
    memcpy(s->addr.sun_path, path, len);
    if (path[0] == '@')
        s->addr.sun_path[0] = '\0'; /* abstract: the name's length is all there is */
    s->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                              (path[0] == '@' ? 0 : 1));
    s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        es_log(ES_LOG_WARN, "service", "event=notify_socket_unusable error=\"%s\"",
               strerror(errno));
        free(s);
        return NULL;
    }
    s->watchdog_us = es_service_watchdog_usec(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"),
                                              (long)getpid());
    /* What the service manager set is for us alone: the daemon starts no
     * programs today, but a child must never ping for it. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    es_log(ES_LOG_INFO, "service", "event=notify watchdog_ms=%" PRId64, s->watchdog_us / 1000);
    return s;
}

/* "cameras live=2/3 viewers=5 upload_backlog=0 origin=listening". */
static void format_status(const struct es_service_view *v, const char *stalled, char *out,
                          size_t size)
{
    size_t live = 0;
    uint64_t backlog = 0;
    for (size_t i = 0; i < v->camera_count; i++) {
        struct es_camera_stats st;
        es_camera_stats(v->cameras[i], &st);
        live += st.state == ES_CAMERA_LIVE;
        struct es_upload_camera_totals up;
        es_uploader_camera_totals(v->uploader, es_camera_config(v->cameras[i])->id, &up);
        backlog += up.backlog_segments;
    }
    size_t viewers = 0;
    int64_t tick_us;
    if (v->origin)
        es_origin_progress(v->origin, &tick_us, &viewers);
    int n = snprintf(out, size, "cameras live=%zu/%zu viewers=%zu upload_backlog=%" PRIu64
                     " origin=%s",
                     live, v->camera_count, viewers, backlog, v->origin ? "listening" : "off");
    if (stalled && n >= 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, " stalled=%s", stalled);
}

void es_service_ready(struct es_service *s, const struct es_service_view *view)
{
    if (!s)
        return;
    format_status(view, NULL, s->status, sizeof(s->status));
    char state[300];
    snprintf(state, sizeof(state), "READY=1\nSTATUS=%s", s->status);
    send_state(s, state);
    s->last_status_us = s->last_ping_us = 0;
}

/* The first thread that has shown no progress within the watchdog interval,
 * as "camera:<id>" or "origin"; NULL when all have. */
static const char *stalled_thread(const struct es_service *s, const struct es_service_view *v,
                                  int64_t now_us, char *name, size_t size, int64_t *late_us)
{
    for (size_t i = 0; i < v->camera_count; i++) {
        int64_t due = es_camera_progress_due_us(v->cameras[i]);
        if (now_us - due > s->watchdog_us) {
            snprintf(name, size, "camera:%s", es_camera_config(v->cameras[i])->id);
            *late_us = now_us - due;
            return name;
        }
    }
    if (v->origin) {
        int64_t tick_us;
        size_t connections;
        es_origin_progress(v->origin, &tick_us, &connections);
        if (now_us - tick_us > s->watchdog_us) {
            snprintf(name, size, "origin");
            *late_us = now_us - tick_us;
            return name;
        }
    }
    return NULL;
}

void es_service_tick(struct es_service *s, const struct es_service_view *view, int64_t now_us)
{
    if (!s)
        return;
    char name[96];
    int64_t late_us = 0;
    const char *stalled =
        s->watchdog_us ? stalled_thread(s, view, now_us, name, sizeof(name), &late_us) : NULL;
    if (stalled && !s->withheld)
        es_log(ES_LOG_ERROR, "service",
               "event=watchdog_withheld thread=%s no_progress_ms=%" PRId64
               " watchdog_ms=%" PRId64 " reason=\"the service manager restarts the daemon\"",
               stalled, late_us / 1000, s->watchdog_us / 1000);
    else if (!stalled && s->withheld)
        es_log(ES_LOG_WARN, "service", "event=watchdog_resumed");
    s->withheld = stalled != NULL;

    char status[sizeof(s->status)];
    format_status(view, stalled, status, sizeof(status));
    bool changed = strcmp(status, s->status) != 0;
    bool ping = s->watchdog_us && !stalled && now_us - s->last_ping_us >= s->watchdog_us / 4;
    bool report = (changed && now_us - s->last_status_us >= STATUS_MIN_INTERVAL_US) ||
                  now_us - s->last_status_us >= STATUS_MAX_INTERVAL_US || (stalled && changed);
    if (!ping && !report)
        return;
    char state[300];
    size_t n = 0;
    if (ping) {
        n += (size_t)snprintf(state, sizeof(state), "WATCHDOG=1");
        s->last_ping_us = now_us;
    }
    if (report) {
        snprintf(state + n, sizeof(state) - n, "%sSTATUS=%s", n ? "\n" : "", status);
        memcpy(s->status, status, sizeof(status));
        s->last_status_us = now_us;
    }
    send_state(s, state);
}

void es_service_reloading(struct es_service *s)
{
    if (!s)
        return;
    /* Type=notify-reload (systemd 253) wants MONOTONIC_USEC beside
     * RELOADING=1; plain Type=notify with ExecReload= ignores it. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char state[96];
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading",
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
    send_state(s, state);
}

void es_service_stopping(struct es_service *s)
{
    if (s)
        send_state(s, "STOPPING=1\nSTATUS=stopping");
}

void es_service_close(struct es_service *s)
{
    if (!s)
        return;
    close(s->fd);
    free(s);
}
