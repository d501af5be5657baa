/* es-fanout: simulated LL-HLS viewers for the fan-out benchmark (bench/origin_bench.py).
 *
 *   es-fanout --base http://127.0.0.1:8080/ --camera cam_ll --viewers 500 --seconds 20
 *
 * Each viewer does what hls.js does in low-latency mode, on two keep-alive HTTP/1.1
 * connections (as a browser would use): a blocking playlist reload for the hinted part
 * (_HLS_msn/_HLS_part, _HLS_skip=YES) on one, the hinted part itself on the other, both held
 * by the origin until the part exists; parts listed that it did not ask for (it fell behind)
 * are fetched too and count against it.  Delivery delay of a part = the moment its last
 * byte arrived at the viewer's socket (the kernel's receive timestamp, SO_TIMESTAMPNS) -
 * x-edgestream-published-us (when the origin made it fetchable; same machine, same clock).
 * A viewer is "held" when every part from its first measured one to the end arrived within
 * --bound-ms (100) of publication, none skipped, no error.  The moment this process read
 * it is reported too (read_delay_ms): it adds this process's own scheduling delay, which a
 * viewer on another machine would not put on the server.
 *
 * Why C and not bench/fanout.mjs: on a two-core box the load generator shares the cores
 * with the daemon, and its own time to read a response counts in the delay it measures.
 * The Node client spent more CPU per response than the origin did; this one is one epoll
 * loop that reads bodies into a scratch buffer.  Same viewer behaviour, same output (one
 * JSON object, the fields of fanout.mjs's summary).
 *
 * Bounded: at most --viewers viewers, stops after ramp + warm-up + --seconds, loopback only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_MISSED 64
#define HEAD_MAX 8192
#define BODY_MAX (256 * 1024) /* playlists are kept; parts only counted */

struct response {
    int status;
    size_t length, got;
    int64_t published_us;
    bool head_done;
};

struct conn {
    int fd;
    struct viewer *viewer;
    bool busy;
    bool keep_body;
    char head[HEAD_MAX];
    size_t head_len;
    char *body; /* keep_body: the whole body, NUL-terminated */
    struct response res;
};

enum viewer_state { V_IDLE, V_FIRST, V_CYCLE, V_CATCHUP, V_DONE };

struct part_ref {
    uint64_t msn, part;
};

struct viewer {
    struct conn pl, parts;
    enum viewer_state state;
    int64_t start_us;
    struct part_ref hint;
    bool pl_done, part_done;
    struct part_ref missed[MAX_MISSED];
    size_t missed_count, missed_at;
    /* measured */
    unsigned count, errors, skipped;
    double worst_ms;
    const char *failure;
};

static struct {
    char host[64];
    int port;
    char playlist[300], dir[256];
    unsigned viewers;
    double seconds, warmup, bound_ms, ramp_ms;
} opt = {.port = 8080, .viewers = 100, .seconds = 30, .warmup = 3, .bound_ms = 100, .ramp_ms = 2000};

struct samples {
    double *v;
    size_t count, cap;
};

static struct {
    uint64_t requests, errors, bytes, delivered, skipped, late;
    struct samples arrival, read; /* part delays, ms */
} stats;

static int epfd;
static bool measuring;

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "es-fanout: out of memory\n");
        exit(1);
    }
    return p;
}

static void fail(struct viewer *v, const char *why)
{
    stats.errors++;
    if (measuring)
        v->errors++;
    if (!v->failure)
        v->failure = why;
    v->state = V_DONE;
    for (struct conn *c = &v->pl; c; c = c == &v->pl ? &v->parts : NULL) {
        if (c->fd >= 0) {
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
        }
    }
}

static bool conn_open(struct conn *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    /* Loopback connects complete at once; blocking keeps this simple. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return false;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    c->fd = fd;
    return true;
}

static bool conn_get(struct conn *c, const char *target, bool keep_body)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, opt.host);
    c->busy = true;
    c->keep_body = keep_body;
    c->head_len = 0;
    memset(&c->res, 0, sizeof(c->res));
    stats.requests++;
    /* A request is far smaller than an empty socket buffer: one write does it. */
    return write(c->fd, req, (size_t)n) == n;
}

/* The origin's media URIs sit in its run's directory ("<run>/part_12_3.m4s", names never
 * repeat across runs): the directory, with its '/', as the playlist names it. */
static char run_dir[64];

static void get_part(struct viewer *v, struct part_ref p)
{
    char target[400];
    snprintf(target, sizeof(target), "%s/%spart_%" PRIu64 "_%" PRIu64 ".m4s", opt.dir, run_dir,
             p.msn, p.part);
    v->part_done = false;
    if (!conn_get(&v->parts, target, false))
        fail(v, "write failed");
}

/* The hinted part and the blocking reload for it, side by side as hls.js asks. */
static void start_cycle(struct viewer *v)
{
    char target[400];
    snprintf(target, sizeof(target), "%s?_HLS_msn=%" PRIu64 "&_HLS_part=%" PRIu64 "&_HLS_skip=YES",
             opt.playlist, v->hint.msn, v->hint.part);
    v->state = V_CYCLE;
    v->pl_done = false;
    get_part(v, v->hint);
    if (v->state != V_DONE && !conn_get(&v->pl, target, true))
        fail(v, "write failed");
}

static bool parse_part_uri(const char *s, struct part_ref *out)
{
    size_t hex = strspn(s, "0123456789abcdef");
    if (hex > 0 && hex + 2 < sizeof(run_dir) && s[hex] == '/') {
        memcpy(run_dir, s, hex + 1);
        run_dir[hex + 1] = '\0';
        s += hex + 1;
    }
    return sscanf(s, "part_%" SCNu64 "_%" SCNu64 ".m4s", &out->msn, &out->part) == 2;
}

static bool find_hint(const char *text, struct part_ref *out)
{
    const char *h = strstr(text, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"");
    return h && parse_part_uri(h + strlen("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""), out);
}

/* Parts listed after `after` (which the viewer has), in playlist order. */
static void find_missed(struct viewer *v, const char *text, struct part_ref after)
{
    v->missed_count = v->missed_at = 0;
    bool past = false;
    for (const char *p = strstr(text, "#EXT-X-PART:"); p; p = strstr(p + 1, "#EXT-X-PART:")) {
        const char *eol = strchr(p, '\n');
        const char *uri = strstr(p, "URI=\"");
        struct part_ref r;
        if (!uri || (eol && uri > eol) || !parse_part_uri(uri + 5, &r))
            continue;
        if (past && v->missed_count < MAX_MISSED)
            v->missed[v->missed_count++] = r;
        if (r.msn == after.msn && r.part == after.part)
            past = true;
    }
}

static void add_sample(struct samples *s, double x)
{
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = xrealloc(s->v, s->cap * sizeof(double));
    }
    s->v[s->count++] = x;
}

static void record_part(struct viewer *v, const struct response *res, int64_t arrived_us,
                        int64_t read_us)
{
    if (res->status != 200) {
        stats.errors++;
        if (measuring)
            v->errors++;
        return;
    }
    if (!measuring || !res->published_us)
        return;
    double ms = (double)(arrived_us - res->published_us) / 1000.0;
    add_sample(&stats.arrival, ms);
    add_sample(&stats.read, (double)(read_us - res->published_us) / 1000.0);
    stats.delivered++;
    v->count++;
    if (ms > v->worst_ms)
        v->worst_ms = ms;
    if (ms > opt.bound_ms)
        stats.late++;
}

/* Both halves of a cycle are in: note what was missed, then the next cycle. */
static void after_cycle(struct viewer *v)
{
    if (v->pl.res.status != 200) {
        fail(v, "playlist reload failed");
        return;
    }
    struct part_ref next;
    if (!find_hint(v->pl.body, &next)) {
        fail(v, "playlist without a preload hint");
        return;
    }
    find_missed(v, v->pl.body, v->hint);
    /* The missed list runs up to the new hint (not listed yet as a part). */
    v->hint = next;
    if (v->missed_count) {
        if (measuring) {
            v->skipped += (unsigned)v->missed_count;
            stats.skipped += v->missed_count;
        }
        v->state = V_CATCHUP;
        get_part(v, v->missed[v->missed_at++]);
        return;
    }
    start_cycle(v);
}

static void on_response(struct conn *c, int64_t arrived_us, int64_t read_us)
{
    struct viewer *v = c->viewer;
    c->busy = false;
    if (c == &v->parts) {
        record_part(v, &c->res, arrived_us, read_us);
        v->part_done = true;
        if (v->state == V_CATCHUP) {
            if (v->missed_at < v->missed_count)
                get_part(v, v->missed[v->missed_at++]);
            else
                start_cycle(v);
            return;
        }
    } else {
        v->pl_done = true;
        if (v->state == V_FIRST) {
            if (c->res.status != 200 || !find_hint(c->body, &v->hint)) {
                fail(v, "first playlist without a preload hint");
                return;
            }
            start_cycle(v);
            return;
        }
    }
    if (v->state == V_CYCLE && v->pl_done && v->part_done)
        after_cycle(v);
}

static bool parse_head(struct conn *c)
{
    struct response *r = &c->res;
    char *line = c->head;
    if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1)
        return false;
    for (char *p = strstr(line, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        char *h = p + 2;
        if (strncasecmp(h, "content-length:", 15) == 0)
            r->length = strtoull(h + 15, NULL, 10);
        else if (strncasecmp(h, "x-edgestream-published-us:", 26) == 0)
            r->published_us = strtoll(h + 26, NULL, 10);
    }
    if (c->keep_body) {
        if (r->length >= BODY_MAX)
            return false;
        c->body = xrealloc(c->body, r->length + 1);
    }
    r->head_done = true;
    return true;
}

/* Consumes bytes of the response being read; returns how many belong to it. */
static size_t consume(struct conn *c, const char *data, size_t n, int64_t arrived,
                      int64_t now)
{
    struct response *r = &c->res;
    size_t used = 0;
    if (!r->head_done) {
        /* Copy into the head buffer until the blank line; the rest is body. */
        size_t room = HEAD_MAX - 1 - c->head_len;
        size_t take = n < room ? n : room;
        memcpy(c->head + c->head_len, data, take);
        size_t before = c->head_len;
        c->head_len += take;
        c->head[c->head_len] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (!end) {
            if (c->head_len == HEAD_MAX - 1)
                return (size_t)-1;
            return n;
        }
        size_t head_bytes = (size_t)(end + 4 - c->head);
        used = head_bytes - before;
        if (!parse_head(c))
            return (size_t)-1;
    }
    size_t want = r->length - r->got;
    size_t take = n - used < want ? n - used : want;
    if (c->keep_body)
        memcpy(c->body + r->got, data + used, take);
    r->got += take;
    used += take;
    stats.bytes += take;
    if (r->got == r->length) {
        if (c->keep_body)
            c->body[r->length] = '\0';
        on_response(c, arrived, now);
    }
    return used;
}

static void on_readable(struct conn *c)
{
    static char buf[256 * 1024];
    struct viewer *v = c->viewer;
    for (;;) {
        struct iovec iov = {buf, sizeof(buf)};
        union {
            char raw[CMSG_SPACE(sizeof(struct timespec))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.raw,
                             .msg_controllen = sizeof(control.raw)};
        ssize_t n = recvmsg(c->fd, &msg, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            fail(v, n == 0 ? "connection closed" : "read error");
            return;
        }
        int64_t now = wall_us();
        /* For TCP the timestamp is that of the newest segment this read took. */
        int64_t arrived = now;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                arrived = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
            }
        }
        size_t off = 0;
        while (off < (size_t)n && v->state != V_DONE) {
            if (!c->busy) {
                fail(v, "unexpected bytes");
                return;
            }
            size_t used = consume(c, buf + off, (size_t)n - off, arrived, now);
            if (used == (size_t)-1) {
                fail(v, "bad response");
                return;
            }
            off += used;
        }
        if (v->state == V_DONE || (size_t)n < sizeof(buf))
            return;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* On sorted samples; -1 when there are none. */
static double pct(const struct samples *s, double p)
{
    if (!s->count)
        return -1;
    size_t i = (size_t)(p / 100.0 * (double)s->count);
    return s->v[i < s->count ? i : s->count - 1];
}

static void parse_args(int argc, char **argv)
{
    const char *base = "http://127.0.0.1:8080/", *camera = "cam_ll";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *val = argv[i + 1];
        if (!strcmp(k, "--base"))
            base = val;
        else if (!strcmp(k, "--camera"))
            camera = val;
        else if (!strcmp(k, "--viewers"))
            opt.viewers = (unsigned)strtoul(val, NULL, 10);
        else if (!strcmp(k, "--seconds"))
            opt.seconds = strtod(val, NULL);
        else if (!strcmp(k, "--warmup"))
            opt.warmup = strtod(val, NULL);
        else if (!strcmp(k, "--bound-ms"))
            opt.bound_ms = strtod(val, NULL);
        else if (!strcmp(k, "--ramp-ms"))
            opt.ramp_ms = strtod(val, NULL);
        else {
            fprintf(stderr, "es-fanout: unknown option %s\n", k);
            exit(2);
        }
    }
    if (sscanf(base, "http://%63[0-9.]:%d", opt.host, &opt.port) != 2 ||
        strcmp(opt.host, "127.0.0.1") != 0 || opt.viewers < 1 || opt.viewers > 20000 ||
        opt.seconds <= 0 || opt.seconds > 3600) {
        fprintf(stderr, "es-fanout: --base must be http://127.0.0.1:PORT/ (loopback only), "
                        "1-20000 viewers, 0-3600 s\n");
        exit(2);
    }
    if (strlen(camera) > 200) {
        fprintf(stderr, "es-fanout: camera id too long\n");
        exit(2);
    }
    snprintf(opt.dir, sizeof(opt.dir), "/live/%s", camera);
    snprintf(opt.playlist, sizeof(opt.playlist), "%s/stream.m3u8", opt.dir);
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * opt.viewers + 64) {
        rl.rlim_cur = rl.rlim_max < 2 * opt.viewers + 64 ? rl.rlim_max : 2 * opt.viewers + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct viewer *vs = calloc(opt.viewers, sizeof(*vs));
    if (!vs || epfd < 0)
        return 1;
    int64_t t0 = wall_us();
    int64_t measure_at = t0 + (int64_t)((opt.ramp_ms + opt.warmup * 1000) * 1000);
    int64_t deadline = measure_at + (int64_t)(opt.seconds * 1e6);
    for (unsigned i = 0; i < opt.viewers; i++) {
        vs[i].pl = (struct conn){.fd = -1, .viewer = &vs[i]};
        vs[i].parts = (struct conn){.fd = -1, .viewer = &vs[i]};
        vs[i].start_us = t0 + (int64_t)(opt.ramp_ms * 1000 * i / opt.viewers);
    }
    struct epoll_event events[256];
    unsigned started = 0;
    for (;;) {
        int64_t now = wall_us();
        if (now >= deadline)
            break;
        measuring = now >= measure_at;
        while (started < opt.viewers && vs[started].start_us <= now) {
            struct viewer *v = &vs[started++];
            v->state = V_FIRST;
            if (!conn_open(&v->pl) || !conn_open(&v->parts) ||
                !conn_get(&v->pl, opt.playlist, true))
                fail(v, "connect failed");
        }
        int64_t next = started < opt.viewers ? vs[started].start_us : deadline;
        int timeout = (int)((next - now) / 1000) + 1;
        int n = epoll_wait(epfd, events, 256, timeout > 50 ? 50 : timeout);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c->fd >= 0 && c->viewer->state != V_DONE)
                on_readable(c);
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    double wall = (double)(wall_us() - t0) / 1e6;

    unsigned held = 0;
    const char *failures[5] = {0};
    size_t nfail = 0;
    for (unsigned i = 0; i < opt.viewers; i++) {
        struct viewer *v = &vs[i];
        if (v->count > 0 && !v->errors && !v->skipped && v->worst_ms <= opt.bound_ms)
            held++;
        if (v->failure) {
            bool seen = false;
            for (size_t k = 0; k < nfail; k++)
                seen |= !strcmp(failures[k], v->failure);
            if (!seen && nfail < 5)
                failures[nfail++] = v->failure;
        }
        free(v->pl.body);
        free(v->parts.body);
        if (v->pl.fd >= 0)
            close(v->pl.fd);
        if (v->parts.fd >= 0)
            close(v->parts.fd);
    }
    qsort(stats.arrival.v, stats.arrival.count, sizeof(double), cmp_double);
    qsort(stats.read.v, stats.read.count, sizeof(double), cmp_double);
    printf("{\"mode\": \"ll\", \"client\": \"es-fanout\", \"playlist\": \"%s\", \"viewers\": %u, "
           "\"workers\": 1, \"seconds\": %g, \"bound_ms\": %g, \"held\": %u, \"delivered\": %" PRIu64
           ", \"late\": %" PRIu64 ", \"skipped\": %" PRIu64 ", \"errors\": %" PRIu64
           ", \"requests\": %" PRIu64 ", \"requests_per_s\": %.0f, \"mbit_per_s\": %.0f, ",
           opt.playlist, opt.viewers, opt.seconds, opt.bound_ms, held, stats.delivered, stats.late,
           stats.skipped, stats.errors, stats.requests, (double)stats.requests / wall,
           (double)stats.bytes * 8 / wall / 1e6);
    const struct samples *sets[] = {&stats.arrival, &stats.read};
    const char *names[] = {"delay_ms", "read_delay_ms"};
    for (size_t k = 0; k < 2; k++)
        printf("\"%s\": {\"p50\": %.1f, \"p95\": %.1f, \"p99\": %.1f, \"max\": %.1f}, ", names[k],
               pct(sets[k], 50), pct(sets[k], 95), pct(sets[k], 99), pct(sets[k], 100));
    printf("\"client_cpu_s\": %.1f, \"wall_s\": %.1f, \"failures\": [", cpu, wall);
    for (size_t k = 0; k < nfail; k++)
        printf("%s\"%s\"", k ? ", " : "", failures[k]);
    printf("]}\n");
    free(stats.arrival.v);
    free(stats.read.v);
    free(vs);
    close(epfd);
    return 0;
}
