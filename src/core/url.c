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

void es_url_redact(const char *url, char *out, size_t out_size)
{
    if (!out_size)
        return;
    struct writer w = {out, out_size, 0};
    out[0] = '\0';
    const char *scheme_end = strstr(url, "://");
    const char *p = url;
    if (scheme_end) {
        const char *authority = scheme_end + 3;
        const char *authority_end = authority + strcspn(authority, "/?#");
        const char *at = NULL;
        for (const char *c = authority; c < authority_end; c++)
            if (*c == '@')
                at = c;
        put(&w, url, (size_t)(authority - url));
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
    const char *query = strchr(p, '?');
    if (!query) {
        put(&w, p, strlen(p));
        return;
    }
    put(&w, p, (size_t)(query - p) + 1);
    for (const char *q = query + 1; *q;) {
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
        } else if (*q == '#') {
            break;
        }
    }
}
