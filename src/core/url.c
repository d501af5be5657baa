#include "core/url.h"

#include <stdio.h>
#include <string.h>

struct writer {
    char *out;
    size_t size, len;
};

static void put(struct writer *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n && w->len + 1 < w->size; i++)
        w->out[w->len++] = s[i];
    w->out[w->len] = '\0';
}

/* The userinfo ends at the last '@' before the query or fragment, not at the
 * first '/': a camera password may contain a raw '/' ("admin:12/34@cam"), and
 * such a URL must still never print the password. */
static const char *find_userinfo_end(const char *authority)
{
    const char *limit = authority + strcspn(authority, "?#");
    const char *at = NULL;
    for (const char *c = authority; c < limit; c++)
        if (*c == '@')
            at = c;
    return at;
}

void es_url_redact(const char *url, char *out, size_t out_size)
{
    if (!out_size)
        return;
    struct writer w = {out, out_size, 0};
    out[0] = '\0';
    const char *p = url;
    const char *scheme_end = strstr(url, "://");
    if (scheme_end && (size_t)(scheme_end - url) < strcspn(url, "/?#@")) {
        const char *authority = scheme_end + 3;
        put(&w, url, (size_t)(authority - url));
        const char *at = find_userinfo_end(authority);
        if (at) {
            const char *colon = memchr(authority, ':', (size_t)(at - authority));
            if (colon) {
                put(&w, authority, (size_t)(colon - authority));
                put(&w, ":***", 4);
            } else {
                put(&w, authority, (size_t)(at - authority));
            }
            p = at;
        } else {
            p = authority;
        }
    }
    /* Path as is; every query value and any fragment (OAuth puts tokens there)
     * hidden. */
    size_t path_len = strcspn(p, "?#");
    put(&w, p, path_len);
    p += path_len;
    if (*p == '?') {
        put(&w, "?", 1);
        for (const char *q = p + 1; *q && *q != '#';) {
            size_t field = strcspn(q, "&#");
            const char *eq = memchr(q, '=', field);
            if (eq) {
                put(&w, q, (size_t)(eq - q) + 1);
                put(&w, "***", 3);
            } else {
                put(&w, q, field);
            }
            q += field;
            if (*q == '&') {
                put(&w, "&", 1);
                q++;
            }
        }
        p += strcspn(p, "#");
    }
    if (*p == '#')
        put(&w, "#***", 4);
}
