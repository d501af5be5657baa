/* Unit tests for src/sink/uploader.c: the uploader thread against a fake store
 * (this file's es_store_ops) whose requests go to a small HTTP server on
 * 127.0.0.1 run by the test. The fake store records every object name the
 * uploader asks it to put or delete, and answers as each test tells it:
 *   - what an earlier run left in the store (stored playlist, listing) is not
 *     trusted: only names the sink itself would give are ever deleted;
 *   - a playlist the store refuses for good does not let segments (and the
 *     uploader's memory of them) pile up. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/alloc.h"
#include "core/blob.h"
#include "core/clock.h"
#include "core/log.h"
#include "sink/sink.h"
#include "sink/store.h"
#include "sink/uploader.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- A small HTTP/1.1 server: answers every request at once -------------------- */

#define MAX_CLIENTS 16

struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
};

struct server {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    const char *stored_playlist; /* GET /get/...: NULL answers 404 */
    const char *listing;         /* GET /list/...: one name a line */
    struct client clients[MAX_CLIENTS];
};

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

/* Answers every complete request in the client's buffer; false when closed. */
static bool serve_client(struct server *srv, struct client *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);
    if (n <= 0)
        return false;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    for (;;) {
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end)
            return true;
        size_t head = (size_t)(end - c->buf) + 4;
        size_t body = 0;
        const char *cl = strcasestr(c->buf, "\r\ncontent-length:");
        if (cl && cl < end)
            body = strtoul(cl + 17, NULL, 10);
        if (c->len < head + body)
            return true;
        char method[16] = "", path[512] = "";
        sscanf(c->buf, "%15s %511s", method, path);
        const char *answer = "";
        int status = 200;
        pthread_mutex_lock(&srv->lock);
        if (strncmp(path, "/get/", 5) == 0) {
            if (srv->stored_playlist)
                answer = srv->stored_playlist;
            else
                status = 404;
        } else if (strncmp(path, "/list/", 6) == 0) {
            answer = srv->listing ? srv->listing : "";
        }
        char reply[8192];
        int len = snprintf(reply, sizeof(reply),
                           "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                           status, status == 200 ? "OK" : "Not Found", strlen(answer), answer);
        pthread_mutex_unlock(&srv->lock);
        send_all(c->fd, reply, (size_t)len);
        memmove(c->buf, c->buf + head + body, c->len - head - body);
        c->len -= head + body;
        c->buf[c->len] = '\0';
    }
}

static void *server_main(void *arg)
{
    struct server *srv = arg;
    while (!atomic_load(&srv->stop)) {
        struct pollfd fds[MAX_CLIENTS + 1];
        int map[MAX_CLIENTS + 1];
        nfds_t n = 0;
        fds[n] = (struct pollfd){.fd = srv->listen_fd, .events = POLLIN};
        map[n++] = -1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (srv->clients[i].fd >= 0) {
                fds[n] = (struct pollfd){.fd = srv->clients[i].fd, .events = POLLIN};
                map[n++] = i;
            }
        }
        if (poll(fds, n, 50) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0) {
                int fd = accept(srv->listen_fd, NULL, NULL);
                if (fd < 0)
                    continue;
                int slot = -1;
                for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
                    if (srv->clients[i].fd < 0)
                        slot = i;
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                srv->clients[slot].fd = fd;
                srv->clients[slot].len = 0;
                continue;
            }
            struct client *c = &srv->clients[map[k]];
            if (!serve_client(srv, c)) {
                close(c->fd);
                c->fd = -1;
            }
        }
    }
    return NULL;
}

static void server_start(struct server *srv)
{
    memset(srv, 0, sizeof(*srv));
    for (int i = 0; i < MAX_CLIENTS; i++)
        srv->clients[i].fd = -1;
    pthread_mutex_init(&srv->lock, NULL);
    srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(srv->listen_fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(srv->listen_fd, 16), 0);
    socklen_t alen = sizeof(addr);
    assert_int_equal(getsockname(srv->listen_fd, (struct sockaddr *)&addr, &alen), 0);
    srv->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&srv->thread, NULL, server_main, srv), 0);
}

static void server_stop(struct server *srv)
{
    atomic_store(&srv->stop, true);
    pthread_join(srv->thread, NULL);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (srv->clients[i].fd >= 0)
            close(srv->clients[i].fd);
    close(srv->listen_fd);
    pthread_mutex_destroy(&srv->lock);
}

/* ---- The fake store ------------------------------------------------------------- */

#define MAX_RECORDED 4096

/* What the uploader asked the store to do; outlives the store (the uploader
 * destroys its stores). */
struct record {
    pthread_mutex_t lock;
    bool refuse_playlist; /* PUT of the playlist: refused for good (a MIME type) */
    size_t segment_puts, playlist_puts;
    char *deleted[MAX_RECORDED];
    size_t deleted_count;
};

struct fake_store {
    struct es_store base;
    struct record *rec;
    int port;
};

static void build(struct fake_store *s, const char *method, const char *what, const char *name,
                  struct es_store_request *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "%s", method);
    /* The name is not put into the URL: the recorder keeps it, exactly. */
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/%zu", s->port, what, strlen(name));
    out->url = es_strdup(url);
    out->headers = curl_slist_append(NULL, "Expect:");
}

static void fake_put(struct es_store *store, const char *name, const uint8_t *data, size_t size,
                     const char *content_type, const char *cache_control, bool overwrite,
                     struct es_store_request *out)
{
    struct fake_store *s = (struct fake_store *)store;
    bool playlist = strstr(name, ".m3u8") != NULL;
    build(s, "PUT", playlist ? "put_playlist" : "put_segment", name, out);
    out->body = data;
    out->body_size = size;
    pthread_mutex_lock(&s->rec->lock);
    if (playlist)
        s->rec->playlist_puts++;
    else
        s->rec->segment_puts++;
    pthread_mutex_unlock(&s->rec->lock);
}

static void fake_delete(struct es_store *store, const char *const *names, size_t count,
                        struct es_store_request *out)
{
    struct fake_store *s = (struct fake_store *)store;
    build(s, "POST", "delete", "", out);
    pthread_mutex_lock(&s->rec->lock);
    for (size_t i = 0; i < count && s->rec->deleted_count < MAX_RECORDED; i++)
        s->rec->deleted[s->rec->deleted_count++] = es_strdup(names[i]);
    pthread_mutex_unlock(&s->rec->lock);
}

static void fake_get(struct es_store *store, const char *name, struct es_store_request *out)
{
    build((struct fake_store *)store, "GET", "get", name, out);
}

static void fake_list(struct es_store *store, const char *prefix, const char *cursor,
                      struct es_store_request *out)
{
    build((struct fake_store *)store, "GET", "list", prefix, out);
}

static bool fake_parse_list(struct es_store *store, const struct es_store_response *response,
                            const char *prefix, void (*each)(void *opaque, const char *name),
                            void *opaque, char *cursor, size_t cursor_size)
{
    const char *p = response->body;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        if (name[0])
            each(opaque, name);
        p += len + (nl ? 1 : 0);
    }
    cursor[0] = '\0';
    return true;
}

static void fake_classify(struct es_store *store, enum es_store_op op,
                          const struct es_store_response *response, bool retried,
                          struct es_store_result *out)
{
    struct fake_store *s = (struct fake_store *)store;
    memset(out, 0, sizeof(*out));
    snprintf(out->code, sizeof(out->code), "http_%ld", response->status);
    pthread_mutex_lock(&s->rec->lock);
    bool refuse = s->rec->refuse_playlist;
    pthread_mutex_unlock(&s->rec->lock);
    if (op == ES_STORE_GET && response->status == 404) {
        out->verdict = ES_STORE_ABSENT;
    } else if (op == ES_STORE_PUT_PLAYLIST && refuse) {
        out->verdict = ES_STORE_PERMANENT_OBJECT;
        snprintf(out->code, sizeof(out->code), "InvalidMimeType");
        snprintf(out->reason, sizeof(out->reason), "the bucket does not allow this MIME type");
    } else {
        out->verdict = response->status == 200 ? ES_STORE_OK : ES_STORE_TRANSIENT;
    }
}

static void fake_destroy(struct es_store *store)
{
    free(store);
}

static const struct es_store_ops fake_ops = {
    .put = fake_put,
    .delete_objects = fake_delete,
    .get = fake_get,
    .list = fake_list,
    .parse_list = fake_parse_list,
    .classify = fake_classify,
    .destroy = fake_destroy,
};

/* ---- Fixture --------------------------------------------------------------------- */

struct fixture {
    struct server srv;
    struct record rec;
    struct es_uploader *up;
    struct es_upload_store *store;
    struct es_upload_stream *stream;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    server_start(&f->srv);
    pthread_mutex_init(&f->rec.lock, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    es_uploader_destroy(f->up, 0);
    server_stop(&f->srv);
    for (size_t i = 0; i < f->rec.deleted_count; i++)
        free(f->rec.deleted[i]);
    pthread_mutex_destroy(&f->rec.lock);
    free(f);
    return 0;
}

static void open_stream(struct fixture *f, unsigned keep)
{
    assert_int_equal(es_uploader_create(&f->up), ES_OK);
    struct fake_store *s = es_calloc(1, sizeof(*s));
    s->base.ops = &fake_ops;
    s->base.kind = "fake";
    snprintf(s->base.host, sizeof(s->base.host), "127.0.0.1:%d", f->srv.port);
    s->base.max_delete_batch = 100;
    s->rec = &f->rec;
    s->port = f->srv.port;
    struct es_remote_storage settings = {
        .enabled = true,
        .segment_cache_control = "no-cache",
        .playlist_cache_control = "no-cache",
        .max_backlog_mb = 64,
        .connections = 2,
        .connect_timeout_ms = 1000,
        .stall_timeout_ms = 2000,
        .retry_max_ms = 200,
        .recheck_s = 1,
        .delete_interval_s = 0,
    };
    f->store = es_uploader_add_store(f->up, &s->base, &settings);
    struct es_upload_stream_config cfg = {
        .camera_id = "cam",
        .location = "loc",
        .target_duration = 2,
        .segments_to_keep = keep,
        .delete_grace = 0,
    };
    assert_int_equal(es_uploader_open(f->up, f->store, &cfg, &f->stream), ES_OK);
}

static void publish(struct fixture *f, uint64_t msn)
{
    char bytes[64];
    snprintf(bytes, sizeof(bytes), "TS bytes of segment %" PRIu64, msn);
    struct es_published_segment seg = {
        .msn = msn,
        .data = es_blob_copy(bytes, strlen(bytes)),
        .duration = 2.0,
        .program_date_time_us = INT64_C(1795530900123000) + (int64_t)msn * 2000000,
    };
    es_upload_stream_publish(f->stream, &seg);
    es_blob_unref(seg.data);
}

static bool deleted(struct fixture *f, const char *name)
{
    pthread_mutex_lock(&f->rec.lock);
    bool found = false;
    for (size_t i = 0; i < f->rec.deleted_count && !found; i++)
        found = strcmp(f->rec.deleted[i], name) == 0;
    pthread_mutex_unlock(&f->rec.lock);
    return found;
}

static bool wait_deleted(struct fixture *f, const char *name, int64_t timeout_us)
{
    int64_t until = es_clock_mono_us() + timeout_us;
    while (!deleted(f, name)) {
        if (es_clock_mono_us() > until)
            return false;
        es_clock_sleep_us(20000);
    }
    return true;
}

/* Every name deleted is "loc/cam/" + exactly the name the sink gives some msn. */
static void assert_only_own_names_deleted(struct fixture *f)
{
    bool all_own = true;
    pthread_mutex_lock(&f->rec.lock);
    for (size_t i = 0; i < f->rec.deleted_count; i++) {
        const char *name = f->rec.deleted[i];
        bool own = strncmp(name, "loc/cam/segment_", 16) == 0;
        if (own) {
            uint64_t msn = strtoull(name + 16, NULL, 10);
            char want[64];
            es_sink_segment_name(msn, want, sizeof(want));
            own = strcmp(name + 8, want) == 0;
        }
        if (!own)
            fprintf(stderr, "deleted a foreign name: %s\n", name);
        all_own = all_own && own;
    }
    pthread_mutex_unlock(&f->rec.lock);
    assert_true(all_own); /* asserted unlocked: the uploader thread records too */
}

/* es_upload_stream_last_msn() never waits (a camera asks it when its first
 * packet is ready); these tests wait for the store to have been read first. */
static bool last_msn_once_read(struct fixture *f, uint64_t *last)
{
    char line[256];
    for (int i = 0; i < 500; i++) {
        es_uploader_camera_status(f->up, "cam", line, sizeof(line));
        if (!strstr(line, "reading"))
            break;
        es_clock_sleep_us(10000);
    }
    return es_upload_stream_last_msn(f->stream, last);
}

static uint64_t uploaded(struct fixture *f)
{
    struct es_upload_camera_totals t;
    es_uploader_camera_totals(f->up, "cam", &t);
    return t.uploaded;
}

/* ---- Tests ------------------------------------------------------------------------ */

/* DESIGN.md invariant 8: a stored playlist (here with another target duration,
 * so its window is not continued and everything it named is a leftover) and a
 * listing that name objects the sink would not have written ("segment_1.ts" for
 * msn 1, "notes.txt", "sub/segment_003.ts", "segment_0005.ts"): only the sink's
 * own names are ever deleted. */
static void test_uploader_deletes_only_its_own_names_read_back_from_the_store(void **state)
{
    struct fixture *f = *state;
    f->srv.stored_playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n"
                             "#EXTINF:4.0,\nsegment_1.ts\n#EXTINF:4.0,\nnotes.txt\n"
                             "#EXTINF:4.0,\nsub/segment_003.ts\n#EXTINF:4.0,\nsegment_004.ts\n";
    f->srv.listing = "segment_1.ts\nsegment_004.ts\nsegment_0005.ts\nsegment_006.ts\nnotes.txt\n";
    open_stream(f, 3);
    uint64_t last = 0;
    assert_true(last_msn_once_read(f, &last));
    assert_true(last >= 6);
    /* The playlist still names segment_004.ts; a new one without it must be
     * stored before it goes. */
    publish(f, last + 1);
    assert_true(wait_deleted(f, "loc/cam/segment_006.ts", 5000000));
    assert_true(wait_deleted(f, "loc/cam/segment_004.ts", 5000000));
    es_clock_sleep_us(300000);
    assert_only_own_names_deleted(f);
}

/* A stored playlist that climbs out of the camera's prefix ("../../other/...")
 * is refused whole; nothing under another prefix is ever deleted. */
static void test_uploader_never_deletes_outside_the_camera_prefix(void **state)
{
    struct fixture *f = *state;
    f->srv.stored_playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n"
                             "#EXTINF:4.0,\n../../other/segment_000.ts\n"
                             "#EXTINF:4.0,\nsegment_001.ts\n";
    f->srv.listing = "segment_002.ts\n";
    open_stream(f, 3);
    uint64_t last = 0;
    assert_true(last_msn_once_read(f, &last));
    assert_true(last >= 2);
    publish(f, last + 1);
    assert_true(wait_deleted(f, "loc/cam/segment_002.ts", 5000000));
    es_clock_sleep_us(300000);
    bool climbed = false;
    pthread_mutex_lock(&f->rec.lock);
    for (size_t i = 0; i < f->rec.deleted_count; i++)
        climbed = climbed || strstr(f->rec.deleted[i], "..") != NULL;
    pthread_mutex_unlock(&f->rec.lock);
    assert_false(climbed);
    assert_only_own_names_deleted(f);
}

/* Issue 11, defect 12: the store refuses the playlist for good (a bucket that
 * does not allow the .m3u8 MIME type). Segments no stored playlist will name
 * are not uploaded without end: what the uploader sends (and so what the
 * bucket and its memory of undeleted names hold) stays bounded by the window. */
static void test_uploader_stops_uploading_segments_no_stored_playlist_will_name(void **state)
{
    struct fixture *f = *state;
    f->rec.refuse_playlist = true;
    open_stream(f, 3);
    uint64_t last = 0;
    assert_false(last_msn_once_read(f, &last)); /* an empty store */
    for (uint64_t msn = 0; msn < 40; msn++) {
        uint64_t before = uploaded(f);
        publish(f, msn);
        /* Give the uploader time to send it, if it is going to. */
        int64_t until = es_clock_mono_us() + 150000;
        while (uploaded(f) == before && es_clock_mono_us() < until)
            es_clock_sleep_us(5000);
    }
    pthread_mutex_lock(&f->rec.lock);
    size_t puts = f->rec.segment_puts;
    size_t playlist_puts = f->rec.playlist_puts;
    pthread_mutex_unlock(&f->rec.lock);
    assert_true(playlist_puts >= 1);
    /* A window's worth (3) plus what was in flight: far from 40. */
    assert_true(uploaded(f) <= 3 + 2);
    assert_true(puts <= 3 + 3);

    /* The bucket takes playlists again: the stream goes on from the live edge,
     * and what left the playlist is deleted. */
    pthread_mutex_lock(&f->rec.lock);
    f->rec.refuse_playlist = false;
    pthread_mutex_unlock(&f->rec.lock);
    int64_t until = es_clock_mono_us() + 5000000;
    uint64_t msn = 40;
    while (uploaded(f) < 12 && es_clock_mono_us() < until) {
        publish(f, msn++);
        es_clock_sleep_us(100000);
    }
    assert_true(uploaded(f) >= 12);
    assert_true(wait_deleted(f, "loc/cam/segment_000.ts", 5000000));
    assert_only_own_names_deleted(f);
}

int main(void)
{
    es_log_set_level(ES_LOG_ERROR);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_uploader_deletes_only_its_own_names_read_back_from_the_store),
        T(test_uploader_never_deletes_outside_the_camera_prefix),
        T(test_uploader_stops_uploading_segments_no_stored_playlist_will_name),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
