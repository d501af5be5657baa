/* The web player's files (origin.web_root, normally web/dist).
 *
 * The path has already been refused if it held "..", "." or an empty
 * segment in any spelling (origin/path.c). Here every segment must also be a
 * plain name, and the walk opens one component at a time relative to the
 * root's descriptor with O_NOFOLLOW, so neither a symlink nor a rename race
 * can lead outside the root. Only regular files are served.
 *
 * Bodies come from one shared, reference-counted copy per file (keyed by its
 * device, inode, size and modification time, so a rebuilt file is read
 * again): a thousand requests for the player's bundle, read or not, hold one
 * copy between them, never one each. All copies alive at once, cached or
 * still held by responses to slow readers, stay under STATIC_LIVE_MAX; past
 * it a request gets 503 with Retry-After. */
#include "origin/internal.h"

#include "core/alloc.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STATIC_FILE (32u << 20)
#define STATIC_LIVE_MAX (64u << 20)

/* Bytes of every shared copy alive (only the origin's thread makes and drops them). */
static size_t live_bytes;

struct file_header {
    size_t size;
    max_align_t align;
};

static void file_bytes_free(void *data)
{
    struct file_header *h = (struct file_header *)((char *)data - offsetof(struct file_header, align));
    live_bytes -= h->size;
    free(h);
}

struct static_file {
    h2o_linklist_t link; /* es_origin.static_files */
    char *key;           /* the path under web_root */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct es_blob *blob;
};

static void static_file_free(struct static_file *f)
{
    h2o_linklist_unlink(&f->link);
    es_blob_unref(f->blob);
    free(f->key);
    free(f);
}

void es_origin_static_free(struct es_origin *o)
{
    if (!o->static_files.next)
        return;
    while (!h2o_linklist_is_empty(&o->static_files))
        static_file_free(H2O_STRUCT_FROM_MEMBER(struct static_file, link, o->static_files.next));
}

/* The shared copy of an open file, read now if not cached (or changed);
 * NULL when it cannot be read or no room is left (*full). */
static struct es_blob *shared_copy(struct es_origin *o, const char *key, int fd,
                                   const struct stat *st, bool *full)
{
    *full = false;
    for (h2o_linklist_t *n = o->static_files.next; n != &o->static_files; n = n->next) {
        struct static_file *f = H2O_STRUCT_FROM_MEMBER(struct static_file, link, n);
        if (strcmp(f->key, key) != 0)
            continue;
        if (f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
            f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec) {
            h2o_linklist_unlink(&f->link);
            h2o_linklist_insert(o->static_files.next, &f->link); /* most recent first */
            return f->blob;
        }
        static_file_free(f); /* changed on disk */
        break;
    }
    size_t size = (size_t)st->st_size;
    /* Make room: drop the least recently used copies (responses still
     * holding one keep it until they finish). */
    while (live_bytes + size > STATIC_LIVE_MAX && !h2o_linklist_is_empty(&o->static_files))
        static_file_free(H2O_STRUCT_FROM_MEMBER(struct static_file, link, o->static_files.prev));
    if (live_bytes + size > STATIC_LIVE_MAX) {
        *full = true;
        return NULL;
    }
    struct file_header *h = es_malloc(offsetof(struct file_header, align) + size + 1);
    char *buf = (char *)h + offsetof(struct file_header, align);
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got != size) {
        free(h);
        return NULL;
    }
    h->size = size;
    live_bytes += size;
    struct static_file *f = es_calloc(1, sizeof(*f));
    f->key = es_strdup(key);
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtime = st->st_mtim;
    f->blob = es_blob_take((uint8_t *)buf, size, file_bytes_free);
    h2o_linklist_insert(o->static_files.next, &f->link);
    return f->blob;
}

static const char *content_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static void not_found(h2o_req_t *req)
{
    es_origin_respond_text(req, 404, "Not Found", "404 not found\n", ROUTE_STATIC);
}

void es_origin_serve_static(struct es_origin *o, h2o_req_t *req, const struct es_path *path)
{
    if (!o->config.web_root) {
        not_found(req);
        return;
    }
    const char *names[ES_PATH_SEGMENTS_MAX + 1];
    size_t count = 0;
    for (size_t i = 0; i < path->count; i++) {
        if (!es_path_is_name(path->segments[i])) {
            not_found(req);
            return;
        }
        names[count++] = path->segments[i];
    }
    if (count == 0 || path->trailing_slash)
        names[count++] = "index.html";

    int dir = open(o->config.web_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        not_found(req);
        return;
    }
    for (size_t i = 0; i + 1 < count; i++) {
        int next = openat(dir, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dir);
        if (next < 0) {
            not_found(req);
            return;
        }
        dir = next;
    }
    int fd = openat(dir, names[count - 1], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    close(dir);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (unsigned long long)st.st_size > MAX_STATIC_FILE) {
        if (fd >= 0)
            close(fd);
        not_found(req);
        return;
    }
    char key[ES_PATH_MAX + 16];
    size_t k = 0;
    for (size_t i = 0; i < count; i++)
        k += (size_t)snprintf(key + k, sizeof(key) - k, "/%s", names[i]);
    bool full;
    struct es_blob *blob = shared_copy(o, key, fd, &st, &full);
    close(fd);
    if (!blob && full) {
        es_origin_add_header(req, "retry-after", "1");
        es_origin_respond_text(req, 503, "Service Unavailable", "503 busy; retry\n",
                               ROUTE_STATIC);
        return;
    }
    if (!blob) {
        es_origin_respond_text(req, 500, "Internal Server Error", "500 read failed\n",
                               ROUTE_STATIC);
        return;
    }
    /* Vite names built assets by content hash: they never change. */
    bool hashed = count >= 2 && strcmp(names[0], "assets") == 0;
    struct respond r = {
        .status = 200,
        .reason = "OK",
        .content_type = content_type_of(names[count - 1]),
        .cache_control = hashed ? "public, max-age=31536000, immutable" : "no-cache",
        .route = ROUTE_STATIC,
    };
    h2o_iovec_t body = h2o_iovec_init(es_blob_data(blob), es_blob_size(blob));
    es_origin_respond(req, &r, &body, 1, &blob, 1);
}
