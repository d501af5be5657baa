/* The web player's files (origin.web_root, normally web/dist).
 *
 * The path has already been refused if it held "..", "." or an empty
 * segment in any spelling (origin/path.c). Here every segment must also be a
 * plain name, and the walk opens one component at a time relative to the
 * root's descriptor with O_NOFOLLOW, so neither a symlink nor a rename race
 * can lead outside the root. Only regular files are served. */
#include "origin/internal.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STATIC_FILE (32u << 20)

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
    size_t size = (size_t)st.st_size;
    char *buf = h2o_mem_alloc_pool(&req->pool, size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
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
    h2o_iovec_t body = h2o_iovec_init(buf, size);
    es_origin_respond(req, &r, &body, 1, NULL, 0);
}
