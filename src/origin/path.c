#include "origin/path.h"

#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One pass of percent-decoding into out (NUL-terminated). '+' stays '+': in a
 * path it means '+', and our query values never contain spaces. */
static bool percent_decode(const char *in, size_t len, char *out, size_t out_size, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return false;
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (n + 1 >= out_size)
            return false;
        out[n++] = c;
    }
    out[n] = '\0';
    *out_len = n;
    return true;
}

static bool byte_allowed_in_path(unsigned char c)
{
    /* Control bytes (NUL included), DEL, the backslash some file systems and
     * proxies read as a separator, a '%' that survived one decoding (double
     * encoding), and non-ASCII (overlong UTF-8 spellings of '.' and '/'). */
    return c > 0x20 && c < 0x7f && c != '\\' && c != '%';
}

enum es_err es_path_parse(const char *raw, size_t len, struct es_path *out)
{
    out->count = 0;
    out->trailing_slash = false;
    out->buf[0] = '\0';
    if (len == 0 || raw[0] != '/')
        return ES_ERR_INVALID; /* absolute-form or authority-form targets, "*" */
    if (len >= ES_PATH_MAX)
        return ES_ERR_UNSUPPORTED;
    size_t n;
    if (!percent_decode(raw, len, out->buf, sizeof(out->buf), &n))
        return ES_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!byte_allowed_in_path((unsigned char)out->buf[i]))
            return ES_ERR_INVALID;
    /* Split in place: "/a/b" -> "a\0b". buf[0] is the leading '/'. */
    char *p = out->buf + 1;
    char *end = out->buf + n;
    if (p == end)
        return ES_OK; /* "/" */
    while (p < end) {
        char *slash = memchr(p, '/', (size_t)(end - p));
        char *stop = slash ? slash : end;
        if (stop == p) {
            if (slash && slash + 1 == end) {
                out->trailing_slash = true; /* "/dir/" */
                break;
            }
            return ES_ERR_INVALID; /* "//" */
        }
        *stop = '\0';
        if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
            return ES_ERR_INVALID;
        if (out->count == ES_PATH_SEGMENTS_MAX)
            return ES_ERR_UNSUPPORTED;
        out->segments[out->count++] = p;
        if (!slash)
            break;
        p = slash + 1;
        if (p == end) {
            out->trailing_slash = true;
            break;
        }
    }
    return ES_OK;
}

bool es_path_is_name(const char *segment)
{
    size_t len = strlen(segment);
    if (len == 0 || len > 255 || segment[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = segment[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '~';
        if (!ok)
            return false;
    }
    return true;
}

/* decimal-integer (RFC 8216 §4.2): digits only, at most `max`. */
static bool parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

enum es_err es_query_parse(const char *raw, size_t len, struct es_query *out)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < len) {
        size_t amp = i;
        while (amp < len && raw[amp] != '&')
            amp++;
        size_t eq = i;
        while (eq < amp && raw[eq] != '=')
            eq++;
        char key[32], value[ES_QUERY_TOKEN_MAX];
        size_t key_len = 0, value_len = 0;
        /* Keys we do not know are skipped without decoding: a player may add
         * its own cache-busting parameters. */
        if (eq - i < sizeof(key) && percent_decode(raw + i, eq - i, key, sizeof(key), &key_len)) {
            bool is_msn = strcmp(key, "_HLS_msn") == 0;
            bool is_part = strcmp(key, "_HLS_part") == 0;
            bool is_skip = strcmp(key, "_HLS_skip") == 0;
            bool is_token = strcmp(key, "token") == 0;
            if (is_msn || is_part || is_skip || is_token) {
                const char *v = eq < amp ? raw + eq + 1 : raw + amp;
                size_t vlen = eq < amp ? amp - eq - 1 : 0;
                if (!percent_decode(v, vlen, value, sizeof(value), &value_len) ||
                    strlen(value) != value_len)
                    return ES_ERR_INVALID; /* bad escape, too long, or an embedded NUL */
                if (is_msn) {
                    if (out->has_msn || !parse_decimal(value, value_len, UINT64_MAX, &out->msn))
                        return ES_ERR_INVALID;
                    out->has_msn = true;
                } else if (is_part) {
                    if (out->has_part || !parse_decimal(value, value_len, UINT32_MAX, &out->part))
                        return ES_ERR_INVALID;
                    out->has_part = true;
                } else if (is_skip) {
                    /* draft §6.2.5.1: "YES", or "v2" (also skip date ranges,
                     * which we never write). */
                    if (out->has_skip || (strcmp(value, "YES") != 0 && strcmp(value, "v2") != 0))
                        return ES_ERR_INVALID;
                    out->has_skip = true;
                    out->skip = true;
                } else {
                    if (out->has_token)
                        return ES_ERR_INVALID;
                    memcpy(out->token, value, value_len + 1);
                    out->token_len = value_len;
                    out->has_token = true;
                }
            }
        }
        i = amp + 1;
    }
    return ES_OK;
}

bool es_path_match_numbers(const char *name, const char *prefix, const char *suffix,
                           bool allow_zero_pad, uint64_t *a, uint64_t *b)
{
    size_t plen = strlen(prefix), slen = strlen(suffix), nlen = strlen(name);
    if (nlen <= plen + slen || strncmp(name, prefix, plen) != 0 ||
        strcmp(name + nlen - slen, suffix) != 0)
        return false;
    const char *p = name + plen;
    const char *end = name + nlen - slen;
    uint64_t *targets[2] = {a, b};
    for (int k = 0; k < (b ? 2 : 1); k++) {
        const char *start = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        size_t digits = (size_t)(p - start);
        if (digits == 0 || (!allow_zero_pad && digits > 1 && start[0] == '0'))
            return false;
        if (!parse_decimal(start, digits, UINT64_MAX, targets[k]))
            return false;
        if (k == 0 && b) {
            if (p >= end || *p != '_')
                return false;
            p++;
        }
    }
    return p == end;
}

int es_query_value(const char *raw, size_t len, const char *key, char *out, size_t size,
                   const char **why)
{
    size_t key_len = strlen(key);
    int found = 0;
    out[0] = '\0';
    for (size_t i = 0; raw && i < len;) {
        size_t amp = i;
        while (amp < len && raw[amp] != '&')
            amp++;
        const char *k = raw + i;
        const char *eq = memchr(k, '=', amp - i);
        size_t klen = eq ? (size_t)(eq - k) : amp - i;
        if (klen == key_len && memcmp(k, key, key_len) == 0) {
            if (found) {
                *why = "given twice";
                return -1;
            }
            found = 1;
            size_t n = 0;
            for (const char *p = eq ? eq + 1 : k + klen; p < raw + amp; p++) {
                char c = *p;
                if (c == '%') {
                    int a = p + 2 < raw + amp ? hex_value(p[1]) : -1,
                        b = a >= 0 ? hex_value(p[2]) : -1;
                    if (a < 0 || b < 0) {
                        *why = "has a malformed percent-escape";
                        return -1;
                    }
                    c = (char)(a * 16 + b);
                    p += 2;
                }
                /* '+' stays '+': the sign of an offset such as +01:00. */
                if (n + 1 >= size || (unsigned char)c < 0x20) {
                    *why = "is too long or holds control characters";
                    return -1;
                }
                out[n++] = c;
            }
            out[n] = '\0';
        }
        i = amp + 1;
    }
    return found;
}
