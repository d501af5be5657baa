#include "source/rtp_framer.h"

#include "core/alloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_token_char(uint8_t c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* RFC 2326 section 6.1 / 7.1: "RTSP/1.0 200 OK" or "METHOD uri RTSP/1.0". */
static bool valid_start_line(const uint8_t *line, size_t n)
{
    if (n >= 12 && memcmp(line, "RTSP/", 5) == 0) {
        size_t i = 5;
        while (i < n && (isdigit(line[i]) || line[i] == '.'))
            i++;
        return i + 4 <= n && line[i] == ' ' && isdigit(line[i + 1]) && isdigit(line[i + 2]) &&
               isdigit(line[i + 3]) && (i + 4 == n || line[i + 4] == ' ');
    }
    size_t i = 0;
    while (i < n && is_token_char(line[i]))
        i++;
    if (i == 0 || i >= n || line[i] != ' ')
        return false;
    const uint8_t *last_space = NULL;
    for (size_t j = i + 1; j < n; j++)
        if (line[j] == ' ')
            last_space = line + j;
    return last_space && last_space > line + i + 1 && (size_t)(line + n - last_space) >= 6 &&
           memcmp(last_space + 1, "RTSP/", 5) == 0;
}

/* Noise before a unit (garbage from a broken server): skip up to the next
 * '$' before `limit`, else `limit` bytes (1 <= limit <= len). */
static void skip_noise(const uint8_t *buf, size_t limit, struct es_rtp_frame *out)
{
    const uint8_t *dollar = memchr(buf + 1, '$', limit - 1);
    out->kind = ES_RTP_FRAME_SKIPPED;
    out->consumed = dollar ? (size_t)(dollar - buf) : limit;
}

/* Finds the blank line ending the headers; returns its end offset or 0. */
static size_t find_header_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Returns the Content-Length of a header block, 0 if absent, -1 if malformed. */
static long content_length(const uint8_t *buf, size_t header_size)
{
    static const char name[] = "content-length:";
    const size_t n = sizeof(name) - 1;
    for (size_t i = 0; i + n < header_size; i++) {
        if ((i > 0 && buf[i - 1] != '\n') || strncasecmp((const char *)buf + i, name, n) != 0)
            continue;
        size_t j = i + n;
        while (j < header_size && (buf[j] == ' ' || buf[j] == '\t'))
            j++;
        long value = 0;
        size_t digits = 0;
        while (j < header_size && isdigit(buf[j]) && digits < 9) {
            value = value * 10 + (buf[j++] - '0');
            digits++;
        }
        if (digits == 0 || (j < header_size && isdigit(buf[j])))
            return -1;
        return value;
    }
    return 0;
}

static enum es_err next_message(const uint8_t *buf, size_t len, struct es_rtp_frame *out)
{
    size_t scan = len < ES_RTP_FRAMER_MAX_HEADER ? len : ES_RTP_FRAMER_MAX_HEADER;
    const uint8_t *nl = memchr(buf, '\n', scan);
    if (!nl) {
        /* An incomplete start line waits for more bytes only while it still
         * looks like text. */
        for (size_t i = 0; i < scan; i++)
            if (buf[i] == '$' || (buf[i] < 32 && buf[i] != '\r') || buf[i] > 126) {
                skip_noise(buf, len, out);
                return ES_OK;
            }
        if (len >= ES_RTP_FRAMER_MAX_HEADER)
            return ES_ERR_INVALID;
        return ES_OK;
    }
    size_t line_end = (size_t)(nl - buf);
    size_t line_len = line_end > 0 && buf[line_end - 1] == '\r' ? line_end - 1 : line_end;
    if (!valid_start_line(buf, line_len)) {
        skip_noise(buf, line_end + 1, out);
        return ES_OK;
    }
    size_t header_size = find_header_end(buf, scan);
    if (!header_size)
        return len >= ES_RTP_FRAMER_MAX_HEADER ? ES_ERR_INVALID : ES_OK;
    long body = content_length(buf, header_size);
    if (body < 0 || body > ES_RTP_FRAMER_MAX_BODY)
        return ES_ERR_INVALID;
    if (len - header_size < (size_t)body)
        return ES_OK;
    out->kind = ES_RTP_FRAME_MESSAGE;
    out->data = buf;
    out->header_size = header_size;
    out->size = out->consumed = header_size + (size_t)body;
    return ES_OK;
}

enum es_err es_rtp_framer_next(const uint8_t *buf, size_t len, struct es_rtp_frame *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return ES_OK;
    if (buf[0] == '$') {
        /* RFC 2326 section 10.12: '$', one-byte channel, two-byte length. */
        if (len < 4)
            return ES_OK;
        size_t size = (size_t)buf[2] << 8 | buf[3];
        if (len < 4 + size)
            return ES_OK;
        out->kind = ES_RTP_FRAME_INTERLEAVED;
        out->channel = buf[1];
        out->data = buf + 4;
        out->size = size;
        out->consumed = 4 + size;
        return ES_OK;
    }
    if (buf[0] == '\r' || buf[0] == '\n' || buf[0] == ' ' || buf[0] == '\t') {
        size_t n = 1;
        while (n < len && n < 4096 && buf[n] && strchr("\r\n \t", buf[n]))
            n++;
        out->kind = ES_RTP_FRAME_SKIPPED;
        out->consumed = n;
        return ES_OK;
    }
    return next_message(buf, len, out);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static bool parse_start_line(char *line, struct es_rtp_message *m)
{
    if (strncmp(line, "RTSP/", 5) == 0) {
        char *sp = strchr(line, ' ');
        if (!sp || !isdigit((unsigned char)sp[1]) || !isdigit((unsigned char)sp[2]) ||
            !isdigit((unsigned char)sp[3]))
            return false;
        m->is_response = true;
        m->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        return m->status >= 100;
    }
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strrchr(line, ' ') : NULL;
    if (!sp1 || sp2 == sp1)
        return false;
    *sp1 = *sp2 = '\0';
    m->method = line;
    m->uri = sp1 + 1;
    return true;
}

static int parse_cseq(const char *value)
{
    if (!value || !isdigit((unsigned char)*value))
        return -1;
    long n = 0;
    for (; isdigit((unsigned char)*value); value++) {
        n = n * 10 + (*value - '0');
        if (n > 0x7fffffff)
            return -1;
    }
    return *value == '\0' ? (int)n : -1;
}

enum es_err es_rtp_framer_parse(const struct es_rtp_frame *frame, struct es_rtp_message *out)
{
    memset(out, 0, sizeof(*out));
    out->cseq = -1;
    if (frame->kind != ES_RTP_FRAME_MESSAGE || frame->header_size > frame->size)
        return ES_ERR_INVALID;
    char *s = es_malloc(frame->size + 1);
    memcpy(s, frame->data, frame->size);
    s[frame->size] = '\0';
    out->storage = s;
    out->body = (const uint8_t *)s + frame->header_size;
    out->body_size = frame->size - frame->header_size;

    /* Headers end at the blank line; NUL bytes inside them would cut values
     * short, so they become spaces. Folded lines (a line starting with
     * whitespace continues the previous header) are joined in place. */
    size_t h = frame->header_size;
    for (size_t i = 0; i < h; i++) {
        if (s[i] == '\0')
            s[i] = ' ';
        if (s[i] == '\n' && i + 1 < h && (s[i + 1] == ' ' || s[i + 1] == '\t') &&
            memchr(s, '\n', i) != NULL) {
            s[i] = ' ';
            if (i > 0 && s[i - 1] == '\r')
                s[i - 1] = ' ';
        }
    }
    s[h - 1] = '\0';

    char *save = NULL;
    char *line = strtok_r(s, "\n", &save);
    if (!line || !parse_start_line(trim(line), out)) {
        es_rtp_framer_clear(out);
        return ES_ERR_INVALID;
    }
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *colon = strchr(line, ':');
        if (!colon || out->header_count == ES_RTP_FRAMER_MAX_HEADERS)
            continue;
        *colon = '\0';
        char *name = trim(line);
        if (!*name)
            continue;
        out->headers[out->header_count].name = name;
        out->headers[out->header_count].value = trim(colon + 1);
        out->header_count++;
    }
    out->cseq = parse_cseq(es_rtp_framer_header(out, "CSeq", 0));
    return ES_OK;
}

void es_rtp_framer_clear(struct es_rtp_message *m)
{
    free(m->storage);
    memset(m, 0, sizeof(*m));
    m->cseq = -1;
}

const char *es_rtp_framer_header(const struct es_rtp_message *m, const char *name, size_t index)
{
    for (size_t i = 0; i < m->header_count; i++)
        if (strcasecmp(m->headers[i].name, name) == 0 && index-- == 0)
            return m->headers[i].value;
    return NULL;
}
