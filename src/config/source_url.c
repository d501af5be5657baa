#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VALID_FORMS                                                                                \
    "rtsp://host/path, rtsps://host/path, v4l2:///dev/videoN, file:///abs/path, "                  \
    "file:relative/path, test://"

static bool has_prefix(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool fail(char *why, size_t why_size, const char *message)
{
    snprintf(why, why_size, "%s", message);
    return false;
}

/* Digits only, value in [min, max]. */
static bool parse_bounded(const char *s, size_t len, unsigned min, unsigned max, unsigned *out)
{
    if (len == 0 || len > 9)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_network(const char *rest, char *why, size_t why_size)
{
    const char *end = rest + strcspn(rest, "/?#");
    const char *host = rest;
    for (const char *c = rest; c < end; c++)
        if (*c == '@')
            host = c + 1;
    const char *host_end = end;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close)
            return fail(why, why_size, "has an unterminated [IPv6] host");
        host_end = close + 1;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        if (colon)
            host_end = colon;
    }
    if (host_end == host || (*host == '[' && host_end - host <= 2))
        return fail(why, why_size, "has no host (expected rtsp://host/path)");
    if (host_end < end) {
        unsigned port;
        if (*host_end != ':' ||
            !parse_bounded(host_end + 1, (size_t)(end - host_end - 1), 1, 65535, &port))
            return fail(why, why_size, "has an invalid port (expected 1 to 65535)");
    }
    return true;
}

static bool parse_test(const char *rest, struct es_config_source *out, char *why, size_t why_size)
{
    out->width = 1280;
    out->height = 720;
    out->fps = 25;
    if (*rest != '\0' && *rest != '?')
        return fail(why, why_size, "test:// takes no host or path, only ?width=W&height=H&fps=F");
    if (*rest == '?')
        rest++;
    while (*rest) {
        size_t field = strcspn(rest, "&");
        const char *eq = memchr(rest, '=', field);
        size_t name_len = eq ? (size_t)(eq - rest) : field;
        const char *value = eq ? eq + 1 : rest + field;
        size_t value_len = (size_t)(rest + field - value);
        bool ok;
        if (name_len == 5 && strncmp(rest, "width", 5) == 0)
            ok = parse_bounded(value, value_len, 16, 7680, &out->width);
        else if (name_len == 6 && strncmp(rest, "height", 6) == 0)
            ok = parse_bounded(value, value_len, 16, 4320, &out->height);
        else if (name_len == 3 && strncmp(rest, "fps", 3) == 0)
            ok = parse_bounded(value, value_len, 1, 120, &out->fps);
        else if (field == 0)
            ok = true; /* "a&&b" or a trailing '&' */
        else
            return fail(why, why_size,
                        "test:// has an unknown parameter (valid: width, height, fps)");
        if (!ok)
            return fail(why, why_size,
                        "test:// parameters must be integers: width 16 to 7680, height 16 "
                        "to 4320, fps 1 to 120");
        rest += field;
        if (*rest == '&')
            rest++;
    }
    return true;
}

bool es_config_source_parse(const char *url, struct es_config_source *out, char *why,
                            size_t why_size)
{
    memset(out, 0, sizeof(*out));
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return fail(why, why_size,
                        "must not contain spaces or control characters (percent-encode them)");

    if (has_prefix(url, "rtsp://") || has_prefix(url, "rtsps://")) {
        out->kind = ES_CONFIG_SOURCE_RTSP;
        return parse_network(strstr(url, "://") + 3, why, why_size);
    }
    if (has_prefix(url, "v4l2://")) {
        out->kind = ES_CONFIG_SOURCE_V4L2;
        out->path = url + 7;
        if (strncmp(out->path, "/dev/", 5) != 0 || out->path[5] == '\0')
            return fail(why, why_size, "v4l2 URLs name a device: v4l2:///dev/videoN");
        return true;
    }
    if (has_prefix(url, "file:")) {
        out->kind = ES_CONFIG_SOURCE_FILE;
        out->path = url + 5;
        if (strncmp(out->path, "//", 2) == 0) {
            out->path += 2;
            if (out->path[0] != '/')
                return fail(why, why_size,
                            "file URLs take no host: use file:///abs/path or "
                            "file:relative/path");
        }
        if (out->path[0] == '\0')
            return fail(why, why_size, "file URL has no path");
        return true;
    }
    if (has_prefix(url, "test://")) {
        out->kind = ES_CONFIG_SOURCE_TEST;
        return parse_test(url + 7, out, why, why_size);
    }

    size_t scheme_len = strcspn(url, ":/?#");
    if (url[scheme_len] == ':' && scheme_len > 0 && scheme_len <= 16) {
        snprintf(why, why_size, "has unsupported scheme '%.*s:' (valid: " VALID_FORMS ")",
                 (int)scheme_len, url);
        return false;
    }
    return fail(why, why_size, "is not a source URL (valid: " VALID_FORMS ")");
}
