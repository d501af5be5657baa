/* Loading: bytes -> checked text -> a small tree of YAML nodes with positions ->
 * typed structs. What each key means (type, range, default) is the option
 * table's business (options.c); this file walks the YAML, resolves precedence
 * and reports the first problem with its file, line, column and key path.
 *
 * Key paths are written from the document root as the file is written: the
 * list form's cameras are "[0]", "[1]", ...; the mapping form's are
 * "cameras[0]"; then ".settings.target_fps", "defaults.target_fps",
 * "storage[0].root", "log_level". */
#include "config/config.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/url.h"

#include <yaml.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Far beyond any real cameras.yaml (a thousand cameras take some 20000 values);
 * they bound the memory and work a hostile file can cause. */
#define MAX_FILE_SIZE (4u << 20)
#define MAX_NODES 200000
/* A valid config nests 4 deep (root, cameras, camera, settings). */
#define MAX_DEPTH 20
/* Two cores stream a few dozen cameras; this bounds the duplicate-id check. */
#define MAX_CAMERAS 1000
/* More than the rows of any section, so a mapping never overflows its key list. */
#define MAX_KEYS 32

enum node_kind { NODE_SCALAR, NODE_SEQUENCE, NODE_MAPPING };

struct node {
    enum node_kind kind;
    unsigned line, column; /* 1-based start */
    bool plain;            /* plain scalars are typed; quoted ones are strings */
    char *text;            /* scalars */
    struct node **items;   /* sequence items; mapping keys and values alternating */
    size_t count, capacity;
};

/* One key given explicitly in a camera's settings: or in defaults:. */
struct setting {
    const struct es_config_option *option;
    const struct node *value;
    char path[128];
};

struct layer {
    struct setting items[MAX_KEYS];
    size_t count;
};

/* What the walk keeps of a camera until defaults: is known and precedence can
 * be resolved. */
struct camera_source {
    const struct node *mapping;
    const struct node *id;
    char path[128];
    struct layer settings;
};

/* Keys already seen in one mapping: duplicates are an error. */
struct seen_keys {
    const struct es_config_option *option[MAX_KEYS];
    const struct node *key[MAX_KEYS];
    size_t count;
};

enum place { AT_TOP, AT_CAMERA, AT_SETTINGS, AT_DEFAULTS, AT_STORAGE };

struct loader {
    const char *name;
    struct es_config_error *err;
    struct es_config *config;
    struct layer defaults;
    struct camera_source *cameras;
    bool storage_given; /* a storage: list was written (even an empty one) */
};

/* ---- Errors ---- */

static void copy_string(char *out, size_t out_size, const char *in)
{
    size_t len = strlen(in);
    if (len >= out_size) {
        /* Keep the end of a path: the file name is the useful part. */
        len = out_size - 1;
        memcpy(out, "...", 3);
        memcpy(out + 3, in + strlen(in) - (len - 3), len - 3);
    } else {
        memcpy(out, in, len);
    }
    out[len] = '\0';
}

static enum es_err vfail(struct es_config_error *err, const char *name, unsigned line,
                         unsigned column, const char *path, const char *fmt, va_list ap)
{
    copy_string(err->file, sizeof(err->file), name);
    err->line = line;
    err->column = column;
    snprintf(err->key, sizeof(err->key), "%s", path ? path : "");
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    return ES_ERR_CONFIG;
}

static enum es_err fail_at(struct loader *ld, unsigned line, unsigned column, const char *path,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum es_err fail_at(struct loader *ld, unsigned line, unsigned column, const char *path,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum es_err e = vfail(ld->err, ld->name, line, column, path, fmt, ap);
    va_end(ap);
    return e;
}

static enum es_err fail(struct loader *ld, const struct node *at, const char *path, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
static enum es_err fail(struct loader *ld, const struct node *at, const char *path, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum es_err e = vfail(ld->err, ld->name, at ? at->line : 0, at ? at->column : 0, path, fmt, ap);
    va_end(ap);
    return e;
}

void es_config_error_format(const struct es_config_error *err, char *out, size_t out_size)
{
    if (!out_size)
        return;
    char where[64] = "";
    if (err->line)
        snprintf(where, sizeof(where), ":%u:%u", err->line, err->column);
    int n = snprintf(out, out_size, "%s%s: %s%s%s", err->file, where, err->key,
                     err->key[0] ? ": " : "", err->message);
    (void)n; /* a cut-short message is still the best we can print */
}

/* ---- Paths ---- */

/* Keys are shown redacted: a URL pasted where a key belongs may hold a password. */
static void path_key(char *out, size_t out_size, const char *base, const char *key)
{
    char shown[96];
    es_url_redact(key, shown, sizeof(shown));
    int n = snprintf(out, out_size, "%s%s%s", base, base[0] ? "." : "", shown);
    if (n < 0 || (size_t)n >= out_size)
        memcpy(out + out_size - 4, "...", 4);
}

static void path_index(char *out, size_t out_size, const char *base, size_t index)
{
    int n = snprintf(out, out_size, "%s[%zu]", base, index);
    if (n < 0 || (size_t)n >= out_size)
        memcpy(out + out_size - 4, "...", 4);
}

/* ---- Text checks ---- */

/* 1-based line and column (in characters, as libyaml counts) of byte `offset`. */
static void position_of(const char *text, size_t offset, unsigned *line, unsigned *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            (*column)++;
        }
    }
}

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned min;
    unsigned cp;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > avail)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* libyaml rejects these too, but only with a byte offset; checking first gives
 * a line and column, and a hint that the file is not text at all. */
static enum es_err check_text(struct loader *ld, const char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        unsigned line, column;
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
            position_of(text, i, &line, &column);
            return fail_at(ld, line, column, "",
                           "control character 0x%02x: a config must be UTF-8 text (is this a "
                           "binary file?)",
                           c);
        }
        size_t n = utf8_sequence((const unsigned char *)text + i, len - i);
        if (n == 0) {
            position_of(text, i, &line, &column);
            return fail_at(ld, line, column, "",
                           "invalid UTF-8 (byte 0x%02x): save the file as UTF-8", c);
        }
        i += n;
    }
    return ES_OK;
}

/* ---- YAML -> tree ---- */

static void node_free(struct node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->count; i++)
        node_free(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

static struct node *node_new(enum node_kind kind, yaml_mark_t mark)
{
    struct node *node = es_calloc(1, sizeof(*node));
    node->kind = kind;
    node->line = (unsigned)mark.line + 1;
    node->column = (unsigned)mark.column + 1;
    return node;
}

static void node_append(struct node *parent, struct node *child)
{
    if (parent->count == parent->capacity) {
        parent->capacity = parent->capacity ? parent->capacity * 2 : 8;
        parent->items = es_realloc(parent->items, parent->capacity * sizeof(*parent->items));
    }
    parent->items[parent->count++] = child;
}

static const char *kind_name(const struct node *node)
{
    switch (node->kind) {
    case NODE_SCALAR:
        return "a scalar";
    case NODE_SEQUENCE:
        return "a list";
    case NODE_MAPPING:
        return "a mapping";
    }
    return "a value";
}

/* "a list", or "the scalar '15'" (redacted and cut short, as it may be anything). */
static const char *describe_node(const struct node *node, char *out, size_t out_size)
{
    if (node->kind != NODE_SCALAR)
        return kind_name(node);
    char shown[96];
    es_url_redact(node->text, shown, sizeof(shown));
    if (strlen(shown) > 40)
        memcpy(shown + 37, "...", 4);
    snprintf(out, out_size, "the scalar '%s'", shown);
    return out;
}

static bool is_null(const struct node *node)
{
    return node->kind == NODE_SCALAR && node->plain &&
           (node->text[0] == '\0' || strcmp(node->text, "~") == 0 ||
            strcmp(node->text, "null") == 0 || strcmp(node->text, "Null") == 0 ||
            strcmp(node->text, "NULL") == 0);
}

/* Explicit tags: !!str makes a string, the other core tags change nothing here,
 * anything else (application tags) has no meaning in a config. */
static enum es_err check_tag(struct loader *ld, const yaml_char_t *tag, const yaml_event_t *ev,
                             bool *force_string)
{
    if (!tag || strcmp((const char *)tag, "!") == 0)
        return ES_OK;
    static const char core[] = "tag:yaml.org,2002:";
    const char *t = (const char *)tag;
    static const char *const harmless[] = {"int", "float", "bool", "null", "map", "seq", NULL};
    if (strncmp(t, core, sizeof(core) - 1) == 0) {
        const char *name = t + sizeof(core) - 1;
        if (strcmp(name, "str") == 0) {
            *force_string = true;
            return ES_OK;
        }
        for (size_t i = 0; harmless[i]; i++)
            if (strcmp(name, harmless[i]) == 0)
                return ES_OK;
    }
    char shown[64];
    es_url_redact(t, shown, sizeof(shown));
    return fail_at(ld, (unsigned)ev->start_mark.line + 1, (unsigned)ev->start_mark.column + 1, "",
                   "YAML tag '%s' is not supported", shown);
}

/* A parse error from libyaml, with its own problem text and mark. A tab in the
 * indentation of the offending line is the usual cause, and libyaml's words for
 * it ("found character that cannot start any token") do not say so. */
static enum es_err syntax_error(struct loader *ld, yaml_parser_t *parser, const char *text,
                                size_t len)
{
    unsigned line, column;
    if (parser->error == YAML_READER_ERROR) {
        position_of(text, parser->problem_offset < len ? parser->problem_offset : len, &line,
                    &column);
    } else {
        line = (unsigned)parser->problem_mark.line + 1;
        column = (unsigned)parser->problem_mark.column + 1;
    }
    size_t start = 0;
    for (unsigned l = 1; l < line && start < len; start++)
        if (text[start] == '\n')
            l++;
    for (size_t i = start; i < len && (text[i] == ' ' || text[i] == '\t'); i++) {
        if (text[i] == '\t')
            return fail_at(ld, line, (unsigned)(i - start) + 1, "",
                           "tab character in indentation: YAML indents with spaces only");
    }
    const char *problem = parser->problem ? parser->problem : "unknown problem";
    if (parser->context)
        return fail_at(ld, line, column, "", "invalid YAML: %s (%s at line %u, column %u)", problem,
                       parser->context, (unsigned)parser->context_mark.line + 1,
                       (unsigned)parser->context_mark.column + 1);
    return fail_at(ld, line, column, "", "invalid YAML: %s", problem);
}

/* Attaches `node` under the innermost open collection, or makes it the root. */
static enum es_err attach(struct loader *ld, struct node **stack, size_t depth, struct node **root,
                          struct node *node)
{
    if (depth == 0) {
        *root = node;
        return ES_OK;
    }
    struct node *parent = stack[depth - 1];
    if (parent->kind == NODE_MAPPING && parent->count % 2 == 0 && node->kind != NODE_SCALAR) {
        enum es_err e =
            fail(ld, node, "", "a mapping key must be a plain name, not %s", kind_name(node));
        node_free(node);
        return e;
    }
    node_append(parent, node);
    return ES_OK;
}

static enum es_err build_tree(struct loader *ld, const char *text, size_t len, struct node **root)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        abort(); /* only fails on out of memory: see core/alloc.h */
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    struct node *stack[MAX_DEPTH];
    size_t depth = 0, nodes = 0;
    unsigned documents = 0;
    enum es_err e = ES_OK;
    *root = NULL;
    for (bool done = false; !done && e == ES_OK;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            e = syntax_error(ld, &parser, text, len);
            break;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1;
        unsigned column = (unsigned)ev.start_mark.column + 1;
        bool force_string = false;
        struct node *node = NULL;
        if ((ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
             ev.type == YAML_MAPPING_START_EVENT) &&
            ++nodes > MAX_NODES) {
            e = fail_at(ld, line, column, "",
                        "more than %d YAML values: far more than any camera config holds",
                        MAX_NODES);
            yaml_event_delete(&ev);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1)
                e = fail_at(ld, line, column, "",
                            "a second YAML document ('---'): a config is one document");
            break;
        case YAML_ALIAS_EVENT:
            /* Refusing aliases outright is what makes "billion laughs" harmless; a
             * config shares settings through defaults: instead. */
            e = fail_at(ld, line, column, "",
                        "YAML aliases (*%s) are not supported: use defaults: for settings "
                        "shared by cameras",
                        ev.data.alias.anchor ? (const char *)ev.data.alias.anchor : "");
            break;
        case YAML_SCALAR_EVENT:
            e = check_tag(ld, ev.data.scalar.tag, &ev, &force_string);
            if (e != ES_OK)
                break;
            if (strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
                e = fail_at(ld, line, column, "", "a string contains a NUL character (\\0)");
                break;
            }
            node = node_new(NODE_SCALAR, ev.start_mark);
            node->text = es_strdup((const char *)ev.data.scalar.value);
            node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !force_string;
            e = attach(ld, stack, depth, root, node);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const yaml_char_t *tag = ev.type == YAML_SEQUENCE_START_EVENT
                                         ? ev.data.sequence_start.tag
                                         : ev.data.mapping_start.tag;
            e = check_tag(ld, tag, &ev, &force_string);
            if (e != ES_OK)
                break;
            if (depth == MAX_DEPTH) {
                e = fail_at(ld, line, column, "", "nested deeper than %d levels", MAX_DEPTH);
                break;
            }
            node = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? NODE_SEQUENCE : NODE_MAPPING,
                            ev.start_mark);
            e = attach(ld, stack, depth, root, node);
            if (e == ES_OK)
                stack[depth++] = node;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (e != ES_OK) {
        node_free(*root);
        *root = NULL;
    }
    return e;
}

/* ---- Keys ---- */

static const char *section_keys(unsigned mask, char *out, size_t out_size)
{
    size_t used = 0;
    out[0] = '\0';
    for (const struct es_config_option *o = es_config_options(); o->name; o++) {
        if (!(mask & (1u << o->section)))
            continue;
        int n = snprintf(out + used, out_size - used, "%s%s", used ? ", " : "", o->name);
        if (n < 0 || (size_t)n >= out_size - used)
            break;
        used += (size_t)n;
    }
    return out;
}

#define MASK(section) (1u << (section))

/* A key that is valid somewhere else gets told where it belongs. */
static enum es_err unknown_key(struct loader *ld, const struct node *key, const char *path,
                               enum place place, unsigned mask)
{
    char shown[96];
    es_url_redact(key->text, shown, sizeof(shown));
    if (strlen(shown) > 64)
        memcpy(shown + 61, "...", 4);
    const char *name = key->text;
    bool camera_key = es_config_option_find(ES_CONFIG_SECTION_CAMERA, name) != NULL;
    bool setting_key = es_config_option_find(ES_CONFIG_SECTION_SETTINGS, name) != NULL;
    switch (place) {
    case AT_TOP:
        if (camera_key)
            return fail(ld, key, path,
                        "'%s' is a camera key: cameras are the items of a list (the list form "
                        "'- id: ...', or under cameras: in the mapping form)",
                        shown);
        if (setting_key)
            return fail(ld, key, path,
                        "'%s' is a camera setting: put it under defaults: to apply it to every "
                        "camera",
                        shown);
        break;
    case AT_CAMERA:
        if (setting_key)
            return fail(ld, key, path,
                        "'%s' is a setting: put it under the camera's settings:", shown);
        break;
    case AT_SETTINGS:
        if (camera_key)
            return fail(ld, key, path,
                        "'%s' is a camera key: write it beside id:, not under settings:", shown);
        break;
    case AT_DEFAULTS:
        if (strcmp(name, "settings") == 0)
            return fail(ld, key, path,
                        "write settings keys directly under defaults:, without settings:");
        if (camera_key)
            return fail(ld, key, path,
                        "'%s' cannot have a default: defaults: takes the keys of a camera's "
                        "settings:",
                        shown);
        break;
    case AT_STORAGE:
        break;
    }
    const char *guess = es_config_option_suggest(mask, name);
    if (guess)
        return fail(ld, key, path, "unknown key '%s'; did you mean '%s'?", shown, guess);
    char valid[512];
    return fail(ld, key, path, "unknown key '%s' (valid here: %s)", shown,
                section_keys(mask, valid, sizeof(valid)));
}

/* The option for key number `pair` of `map`, which must be new in this mapping. */
static enum es_err lookup_key(struct loader *ld, const struct node *map, size_t pair,
                              const char *base, enum place place, unsigned mask,
                              struct seen_keys *seen, const struct es_config_option **out,
                              char *path, size_t path_size)
{
    const struct node *key = map->items[2 * pair];
    path_key(path, path_size, base, key->text);
    const struct es_config_option *option = NULL;
    for (int s = ES_CONFIG_SECTION_TOP; s < ES_CONFIG_SECTION_COUNT && !option; s++)
        if (mask & MASK(s))
            option = es_config_option_find((enum es_config_section)s, key->text);
    if (!option)
        return unknown_key(ld, key, path, place, mask);
    for (size_t i = 0; i < seen->count; i++)
        if (seen->option[i] == option)
            return fail(ld, key, path, "duplicate key '%s' (first at line %u, column %u)",
                        option->name, seen->key[i]->line, seen->key[i]->column);
    if (seen->count < MAX_KEYS) {
        seen->option[seen->count] = option;
        seen->key[seen->count++] = key;
    }
    *out = option;
    return ES_OK;
}

static bool seen_option(const struct seen_keys *seen, const struct es_config_option *option)
{
    for (size_t i = 0; i < seen->count; i++)
        if (seen->option[i] == option)
            return true;
    return false;
}

/* Missing required keys are reported at the start of the mapping that lacks them. */
static enum es_err check_required(struct loader *ld, const struct node *map, const char *base,
                                  enum es_config_section section, const struct seen_keys *seen)
{
    for (const struct es_config_option *o = es_config_options(); o->name; o++) {
        if (o->section != section || !(o->flags & ES_CONFIG_REQUIRED) || seen_option(seen, o))
            continue;
        char path[128];
        path_key(path, sizeof(path), base, o->name);
        return fail(ld, map, path, "missing required key '%s'", o->name);
    }
    return ES_OK;
}

/* ---- Values ---- */

static enum es_err set_value(struct loader *ld, const struct es_config_option *option,
                             const struct node *value, const char *path, void *dest)
{
    char why[400];
    if (value->kind != NODE_SCALAR) {
        char expected[256];
        es_config_option_describe(option, expected, sizeof(expected));
        return fail(ld, value, path, "expected %s, got %s", expected, kind_name(value));
    }
    if (!es_config_option_set(option, value->text, !value->plain, dest, why, sizeof(why)))
        return fail(ld, value, path, "%s", why);
    return ES_OK;
}

/* Sections (mappings, lists) may be left empty: `settings:` with nothing under it. */
static enum es_err check_container(struct loader *ld, const struct es_config_option *option,
                                   const struct node *value, const char *path, bool *empty)
{
    enum node_kind want = option->type == ES_CONFIG_LIST ? NODE_SEQUENCE : NODE_MAPPING;
    *empty = is_null(value);
    if (*empty || value->kind == want)
        return ES_OK;
    char expected[256], got[128];
    es_config_option_describe(option, expected, sizeof(expected));
    return fail(ld, value, path, "expected %s, got %s", expected,
                describe_node(value, got, sizeof(got)));
}

static void apply_table_defaults(enum es_config_section section, void *dest)
{
    char why[400];
    for (const struct es_config_option *o = es_config_options(); o->name; o++) {
        if (o->section != section || !o->default_value || (o->flags & ES_CONFIG_KEEP_NULL) ||
            o->type == ES_CONFIG_LIST || o->type == ES_CONFIG_MAPPING)
            continue;
        if (!es_config_option_set(o, o->default_value, false, dest, why, sizeof(why))) {
            es_log(ES_LOG_ERROR, "config", "key=%s event=bad_builtin_default reason=\"%s\"",
                   o->name, why);
            abort(); /* the table contradicts itself: a bug, caught by the unit tests */
        }
    }
}

static void free_camera_strings(struct es_camera_config *camera)
{
    free(camera->id);
    free(camera->name);
    free(camera->rtsp_url);
    free(camera->use_case);
    free(camera->location);
    free(camera->profile);
    memset(camera, 0, sizeof(*camera));
}

/* A camera's settings: or defaults:. Values are checked now (errors come in file
 * order) and applied later, once precedence can be resolved. */
static enum es_err walk_settings(struct loader *ld, const struct node *map, const char *base,
                                 enum place place, struct layer *layer)
{
    struct seen_keys seen = {.count = 0};
    struct es_camera_config scratch;
    memset(&scratch, 0, sizeof(scratch));
    enum es_err e = ES_OK;
    for (size_t i = 0; i < map->count / 2 && e == ES_OK; i++) {
        const struct es_config_option *option;
        struct setting *s = &layer->items[layer->count];
        e = lookup_key(ld, map, i, base, place, MASK(ES_CONFIG_SECTION_SETTINGS), &seen, &option,
                       s->path, sizeof(s->path));
        if (e == ES_OK)
            e = set_value(ld, option, map->items[2 * i + 1], s->path, &scratch);
        if (e == ES_OK) {
            s->option = option;
            s->value = map->items[2 * i + 1];
            layer->count++; /* cannot overflow: duplicates were refused */
        }
    }
    free_camera_strings(&scratch);
    return e;
}

static enum es_err walk_camera(struct loader *ld, const struct node *map, size_t index,
                               const char *base)
{
    struct camera_source *src = &ld->cameras[index];
    struct es_camera_config *camera = &ld->config->cameras[index];
    path_index(src->path, sizeof(src->path), base, index);
    src->mapping = map;
    char got[128];
    if (map->kind != NODE_MAPPING)
        return fail(ld, map, src->path,
                    "expected a camera (a mapping with id:, rtsp_url:, ...), got %s",
                    describe_node(map, got, sizeof(got)));

    apply_table_defaults(ES_CONFIG_SECTION_CAMERA, camera);
    apply_table_defaults(ES_CONFIG_SECTION_SETTINGS, camera);

    struct seen_keys seen = {.count = 0};
    for (size_t i = 0; i < map->count / 2; i++) {
        const struct es_config_option *option;
        char path[128];
        enum es_err e = lookup_key(ld, map, i, src->path, AT_CAMERA, MASK(ES_CONFIG_SECTION_CAMERA),
                                   &seen, &option, path, sizeof(path));
        const struct node *value = map->items[2 * i + 1];
        if (e != ES_OK)
            return e;
        if (option->type == ES_CONFIG_MAPPING) { /* settings: */
            bool empty;
            e = check_container(ld, option, value, path, &empty);
            if (e == ES_OK && !empty)
                e = walk_settings(ld, value, path, AT_SETTINGS, &src->settings);
            if (e != ES_OK)
                return e;
            continue;
        }
        e = set_value(ld, option, value, path, camera);
        if (e != ES_OK)
            return e;
        if (strcmp(option->name, "id") != 0)
            continue;
        src->id = value;
        for (size_t j = 0; j < index; j++)
            if (strcmp(ld->config->cameras[j].id, camera->id) == 0)
                return fail(ld, value, path,
                            "duplicate camera id '%s': first at line %u, again at line %u",
                            camera->id, ld->cameras[j].id->line, value->line);
    }
    return check_required(ld, map, src->path, ES_CONFIG_SECTION_CAMERA, &seen);
}

static enum es_err walk_cameras(struct loader *ld, const struct node *list, const char *base)
{
    char path[128];
    snprintf(path, sizeof(path), "%s", base);
    if (list->count == 0 || is_null(list))
        return fail(ld, list, path, "no cameras: at least one camera is required");
    if (list->count > MAX_CAMERAS)
        return fail(ld, list, path, "%zu cameras: at most %d are supported", list->count,
                    MAX_CAMERAS);
    ld->cameras = es_calloc(list->count, sizeof(*ld->cameras));
    ld->config->cameras = es_calloc(list->count, sizeof(*ld->config->cameras));
    ld->config->camera_count = list->count;
    for (size_t i = 0; i < list->count; i++) {
        enum es_err e = walk_camera(ld, list->items[i], i, base);
        if (e != ES_OK)
            return e;
    }
    return ES_OK;
}

/* Where each backend was configured: a backend may appear once. */
struct storage_seen {
    const struct node *local_at, *supabase_at, *s3_at;
};

/* A remote backend's value that may come from the environment instead (the
 * reference design's SUPABASE_URL / SUPABASE_KEY). Checked like the key, and
 * reported at the item, naming both places. Values are never quoted. */
static enum es_err value_or_env(struct loader *ld, const struct node *item, const char *base,
                                enum es_config_section section, const char *name,
                                const char *env, bool required, const char *what, void *dest)
{
    const struct es_config_option *option = es_config_option_find(section, name);
    char **slot = (char **)((char *)dest + option->offset);
    char path[128];
    path_key(path, sizeof(path), base, name);
    if (*slot)
        return ES_OK;
    const char *value = getenv(env);
    if (!value || !*value) {
        if (!required)
            return ES_OK;
        return fail(ld, item, path, "%s: set %s: in this item or the environment variable %s",
                    what, name, env);
    }
    char why[400];
    if (!es_config_option_set(option, value, true, dest, why, sizeof(why)))
        return fail(ld, item, path, "the environment variable %s (used for %s:) %s", env, name,
                    why);
    return ES_OK;
}

static enum es_err remote_from_env(struct loader *ld, const struct node *item, const char *base,
                                   const char *backend)
{
    struct es_config *c = ld->config;
    enum es_err e = ES_OK;
    if (strcmp(backend, "supabase") == 0) {
        e = value_or_env(ld, item, base, ES_CONFIG_SECTION_SUPABASE, "url", "SUPABASE_URL", true,
                         "backend 'supabase' needs the project URL", &c->supabase);
        if (e == ES_OK)
            e = value_or_env(ld, item, base, ES_CONFIG_SECTION_SUPABASE, "key", "SUPABASE_KEY",
                             true, "backend 'supabase' needs the service key", &c->supabase);
        return e;
    }
    e = value_or_env(ld, item, base, ES_CONFIG_SECTION_S3, "access_key_id", "AWS_ACCESS_KEY_ID",
                     true, "backend 's3' needs an access key", &c->s3);
    if (e == ES_OK)
        e = value_or_env(ld, item, base, ES_CONFIG_SECTION_S3, "secret_access_key",
                         "AWS_SECRET_ACCESS_KEY", true, "backend 's3' needs a secret key",
                         &c->s3);
    if (e == ES_OK)
        e = value_or_env(ld, item, base, ES_CONFIG_SECTION_S3, "session_token",
                         "AWS_SESSION_TOKEN", false, "", &c->s3);
    return e;
}

static enum es_err walk_storage_item(struct loader *ld, const struct node *item, size_t index,
                                     struct storage_seen *where)
{
    char base[128], path[128];
    path_index(base, sizeof(base), "storage", index);
    char got[128];
    if (item->kind != NODE_MAPPING)
        return fail(ld, item, base, "expected a storage backend (a mapping with backend:), got %s",
                    describe_node(item, got, sizeof(got)));

    /* The backend decides which other keys are valid, wherever it is written. */
    const struct es_config_option *backend =
        es_config_option_find(ES_CONFIG_SECTION_STORAGE, "backend");
    const struct node *backend_value = NULL;
    for (size_t i = 0; i < item->count / 2; i++)
        if (strcmp(item->items[2 * i]->text, "backend") == 0 && !backend_value)
            backend_value = item->items[2 * i + 1];
    path_key(path, sizeof(path), base, "backend");
    if (!backend_value)
        return fail(ld, item, path, "missing required key 'backend'");
    enum es_err e = set_value(ld, backend, backend_value, path, NULL);
    if (e != ES_OK)
        return e;

    const char *name = backend_value->text;
    const struct node **at;
    unsigned mask = MASK(ES_CONFIG_SECTION_STORAGE);
    enum es_config_section section;
    void *dest;
    if (strcmp(name, "supabase") == 0) {
        at = &where->supabase_at;
        section = ES_CONFIG_SECTION_SUPABASE;
        dest = &ld->config->supabase;
        mask |= MASK(ES_CONFIG_SECTION_REMOTE);
    } else if (strcmp(name, "s3") == 0) {
        at = &where->s3_at;
        section = ES_CONFIG_SECTION_S3;
        dest = &ld->config->s3;
        mask |= MASK(ES_CONFIG_SECTION_REMOTE);
    } else {
        at = &where->local_at;
        section = ES_CONFIG_SECTION_LOCAL;
        dest = &ld->config->local;
    }
    mask |= MASK(section);
    if (*at)
        return fail(ld, backend_value, path,
                    "backend '%s' is configured twice: first at line %u, again at line %u", name,
                    (*at)->line, backend_value->line);
    *at = backend_value;
    if (section == ES_CONFIG_SECTION_LOCAL) {
        ld->config->local.enabled = true;
    } else {
        /* es_remote_storage is the first member of both remote structs. */
        ((struct es_remote_storage *)dest)->enabled = true;
        apply_table_defaults(ES_CONFIG_SECTION_REMOTE, dest);
    }
    apply_table_defaults(section, dest);

    struct seen_keys seen = {.count = 0};
    for (size_t i = 0; i < item->count / 2; i++) {
        const struct es_config_option *option;
        e = lookup_key(ld, item, i, base, AT_STORAGE, mask, &seen, &option, path, sizeof(path));
        if (e == ES_OK && option != backend)
            e = set_value(ld, option, item->items[2 * i + 1], path, dest);
        if (e != ES_OK)
            return e;
    }
    if (section != ES_CONFIG_SECTION_LOCAL) {
        e = check_required(ld, item, base, section, &seen);
        if (e == ES_OK)
            e = remote_from_env(ld, item, base, name);
    }
    return e;
}

static enum es_err walk_storage(struct loader *ld, const struct node *list)
{
    struct storage_seen where = {NULL, NULL, NULL};
    ld->config->local.enabled = false;
    ld->storage_given = true;
    for (size_t i = 0; i < list->count; i++) {
        enum es_err e = walk_storage_item(ld, list->items[i], i, &where);
        if (e != ES_OK)
            return e;
    }
    return ES_OK;
}

/* origin.webrtc: one mapping of WebRTC's keys. */
static enum es_err walk_origin_webrtc(struct loader *ld, const struct node *map)
{
    struct seen_keys seen = {.count = 0};
    for (size_t i = 0; i < map->count / 2; i++) {
        const struct es_config_option *option;
        char path[128];
        enum es_err e = lookup_key(ld, map, i, "origin.webrtc", AT_STORAGE,
                                   MASK(ES_CONFIG_SECTION_WEBRTC), &seen, &option, path,
                                   sizeof(path));
        if (e == ES_OK)
            e = set_value(ld, option, map->items[2 * i + 1], path, &ld->config->origin.webrtc);
        if (e != ES_OK)
            return e;
    }
    return ES_OK;
}

/* origin: one mapping of the origin's keys. */
static enum es_err walk_origin(struct loader *ld, const struct node *map)
{
    struct seen_keys seen = {.count = 0};
    for (size_t i = 0; i < map->count / 2; i++) {
        const struct es_config_option *option;
        char path[128];
        enum es_err e = lookup_key(ld, map, i, "origin", AT_STORAGE,
                                   MASK(ES_CONFIG_SECTION_ORIGIN), &seen, &option, path,
                                   sizeof(path));
        if (e == ES_OK && option->type == ES_CONFIG_MAPPING) {
            /* origin.webrtc: its own keys (docs/webrtc.md) */
            bool empty = false;
            e = check_container(ld, option, map->items[2 * i + 1], path, &empty);
            if (e == ES_OK && !empty)
                e = walk_origin_webrtc(ld, map->items[2 * i + 1]);
        } else if (e == ES_OK) {
            e = set_value(ld, option, map->items[2 * i + 1], path, &ld->config->origin);
        }
        if (e != ES_OK)
            return e;
    }
    return ES_OK;
}

static enum es_err walk_top(struct loader *ld, const struct node *map)
{
    struct seen_keys seen = {.count = 0};
    for (size_t i = 0; i < map->count / 2; i++) {
        const struct es_config_option *option;
        char path[128];
        enum es_err e = lookup_key(ld, map, i, "", AT_TOP, MASK(ES_CONFIG_SECTION_TOP), &seen,
                                   &option, path, sizeof(path));
        if (e != ES_OK)
            return e;
        const struct node *value = map->items[2 * i + 1];
        bool empty = false;
        if (option->type == ES_CONFIG_LIST || option->type == ES_CONFIG_MAPPING) {
            e = check_container(ld, option, value, path, &empty);
            if (e != ES_OK)
                return e;
        }
        if (strcmp(option->name, "cameras") == 0)
            e = walk_cameras(ld, value, "cameras");
        else if (strcmp(option->name, "defaults") == 0)
            e = empty ? ES_OK : walk_settings(ld, value, "defaults", AT_DEFAULTS, &ld->defaults);
        else if (strcmp(option->name, "storage") == 0)
            e = empty ? ES_OK : walk_storage(ld, value);
        else if (strcmp(option->name, "origin") == 0)
            e = empty ? ES_OK : walk_origin(ld, value);
        else
            e = set_value(ld, option, value, path, ld->config);
        if (e != ES_OK)
            return e;
    }
    return check_required(ld, map, "", ES_CONFIG_SECTION_TOP, &seen);
}

/* ---- Precedence ---- */

static const struct setting *layer_find(const struct layer *layer, const char *name)
{
    for (size_t i = 0; i < layer->count; i++)
        if (strcmp(layer->items[i].option->name, name) == 0)
            return &layer->items[i];
    return NULL;
}

static void apply_setting(struct es_camera_config *camera, const struct setting *s)
{
    char why[400];
    /* Checked once already by walk_settings(): this cannot fail. */
    if (!es_config_option_set(s->option, s->value->text, !s->value->plain, camera, why,
                              sizeof(why)))
        abort();
}

static bool is_profile_key(const char *name)
{
    return strcmp(name, "segment_duration") == 0 || strcmp(name, "segments_to_keep") == 0 ||
           strcmp(name, "part_target") == 0;
}

static void apply_layer(struct es_camera_config *camera, const struct layer *layer)
{
    const struct setting *profile_setting = layer_find(layer, "profile");
    if (profile_setting) {
        const struct es_profile *profile = es_profile_find(profile_setting->value->text);
        camera->segment_duration = profile->segment_duration;
        camera->segments_to_keep = profile->segments_to_keep;
        camera->part_target = profile->part_target;
    }
    for (size_t i = 0; i < layer->count; i++)
        apply_setting(camera, &layer->items[i]);
}

/* Where the value a camera ended up with was written, for errors that involve
 * two keys; NULL when it is the built-in default. Mirrors resolve()'s order. */
static const struct setting *origin_of(const struct loader *ld, const struct camera_source *src,
                                       const char *name)
{
    const struct setting *s = layer_find(&src->settings, name);
    if (!s && is_profile_key(name))
        s = layer_find(&src->settings, "profile");
    if (!s)
        s = layer_find(&ld->defaults, name);
    if (!s && is_profile_key(name))
        s = layer_find(&ld->defaults, "profile");
    return s;
}

/* Precedence, lowest first: built-in default, defaults: profile, defaults:
 * explicit keys, the camera's profile, the camera's explicit keys. A camera's
 * own settings: beat defaults: as a whole (a camera that names a profile gets
 * that profile, not a mix with fleet-wide durations); within one mapping,
 * explicit keys beat its profile. */
static enum es_err resolve(struct loader *ld, size_t index)
{
    struct camera_source *src = &ld->cameras[index];
    struct es_camera_config *camera = &ld->config->cameras[index];
    apply_layer(camera, &ld->defaults);
    apply_layer(camera, &src->settings);
    if (!camera->name)
        camera->name = es_strdup(camera->id);

    for (const struct es_config_option *o = es_config_options(); o->name; o++) {
        if (!(o->flags & ES_CONFIG_EVEN) || o->section != ES_CONFIG_SECTION_SETTINGS)
            continue;
        unsigned *value = (unsigned *)((char *)camera + o->offset);
        if (*value % 2 == 0)
            continue;
        const struct setting *from = origin_of(ld, src, o->name);
        /* 4:2:0 chroma needs even dimensions; rounding up keeps at least what was asked. */
        es_log(ES_LOG_WARN, "config",
               "camera=%s key=%s value=%u rounded_to=%u reason=\"odd widths cannot be encoded "
               "in 4:2:0\"",
               camera->id, from ? from->path : o->name, *value, *value + 1);
        (*value)++;
    }

    if (camera->reconnect_min_ms > camera->reconnect_max_ms) {
        const struct setting *at = origin_of(ld, src, "reconnect_min_ms");
        if (!at)
            at = origin_of(ld, src, "reconnect_max_ms");
        return fail(ld, at ? at->value : src->mapping, at ? at->path : src->path,
                    "reconnect_min_ms (%u) is greater than reconnect_max_ms (%u) for camera '%s'",
                    camera->reconnect_min_ms, camera->reconnect_max_ms, camera->id);
    }

    /* RFC 8216 section 6.2.2: a segment removed from the playlist "MUST remain
     * available to clients for a period of time equal to the duration of the
     * segment plus the duration of the longest Playlist file distributed by the
     * server containing that segment". */
    double minimum = camera->segment_duration * (camera->segments_to_keep + 1);
    if (camera->delete_grace >= 0 && camera->delete_grace < minimum) {
        const struct setting *at = origin_of(ld, src, "delete_grace");
        return fail(ld, at ? at->value : src->mapping, at ? at->path : src->path,
                    "delete_grace %g s is too short for camera '%s': RFC 8216 section 6.2.2 "
                    "keeps a removed segment available for its duration plus the playlist's, "
                    "%g s x (%u + 1) = %g s",
                    camera->delete_grace, camera->id, camera->segment_duration,
                    camera->segments_to_keep, minimum);
    }
    /* draft-pantos-hls-rfc8216bis-16 section 4.4.3.7: parts divide segments. */
    if (camera->part_target > camera->segment_duration) {
        const struct setting *at = origin_of(ld, src, "part_target");
        return fail(ld, at ? at->value : src->mapping, at ? at->path : src->path,
                    "part_target %g s is longer than segment_duration %g s for camera '%s': "
                    "a part is a piece of a segment",
                    camera->part_target, camera->segment_duration, camera->id);
    }
    return ES_OK;
}

/* ---- Loading ---- */

static enum es_err walk_root(struct loader *ld, const struct node *root)
{
    if (!root || is_null(root))
        return fail_at(ld, root ? root->line : 1, root ? root->column : 1, "",
                       "the file is empty: expected a list of cameras, or a mapping with "
                       "cameras:");
    char got[128];
    if (root->kind == NODE_SCALAR)
        return fail(ld, root, "", "expected a list of cameras, or a mapping with cameras:, got %s",
                    describe_node(root, got, sizeof(got)));
    if (root->kind == NODE_SEQUENCE)
        return walk_cameras(ld, root, "");
    return walk_top(ld, root);
}

/* The reference design uploads whenever SUPABASE_URL and SUPABASE_KEY are set,
 * with nothing about storage in cameras.yaml. Without a storage: list the same
 * holds here, beside the local directory. */
static enum es_err supabase_from_environment(struct loader *ld)
{
    const char *url = getenv("SUPABASE_URL"), *key = getenv("SUPABASE_KEY");
    bool have_url = url && *url, have_key = key && *key;
    if (!have_url && !have_key)
        return ES_OK;
    if (!have_url || !have_key) {
        es_log(ES_LOG_WARN, "config",
               "event=supabase_not_configured reason=\"%s is set but %s is not: not uploading to "
               "Supabase\"",
               have_url ? "SUPABASE_URL" : "SUPABASE_KEY", have_url ? "SUPABASE_KEY" : "SUPABASE_URL");
        return ES_OK;
    }
    struct es_supabase_storage *sb = &ld->config->supabase;
    sb->remote.enabled = true;
    apply_table_defaults(ES_CONFIG_SECTION_REMOTE, sb);
    apply_table_defaults(ES_CONFIG_SECTION_SUPABASE, sb);
    return remote_from_env(ld, NULL, "storage", "supabase");
}

static enum es_err load(struct loader *ld, const char *text, size_t len)
{
    struct node *root = NULL;
    if (len > MAX_FILE_SIZE)
        return fail_at(ld, 0, 0, "", "the file is too large (more than %u bytes)", MAX_FILE_SIZE);
    enum es_err e = check_text(ld, text, len);
    if (e == ES_OK)
        e = build_tree(ld, text, len, &root);
    if (e == ES_OK)
        e = walk_root(ld, root);
    if (e == ES_OK && !ld->storage_given)
        e = supabase_from_environment(ld);
    for (size_t i = 0; e == ES_OK && i < ld->config->camera_count; i++)
        e = resolve(ld, i);
    node_free(root);
    free(ld->cameras);
    return e;
}

enum es_err es_config_load_string(const char *name, const char *text, size_t len,
                                  struct es_config *out, struct es_config_error *err)
{
    struct es_config_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    memset(out, 0, sizeof(*out));
    out->path = es_strdup(name);
    out->local.enabled = true;
    apply_table_defaults(ES_CONFIG_SECTION_LOCAL, &out->local);
    apply_table_defaults(ES_CONFIG_SECTION_ORIGIN, &out->origin);
    apply_table_defaults(ES_CONFIG_SECTION_WEBRTC, &out->origin.webrtc);

    struct loader ld = {.name = name, .err = err, .config = out};
    enum es_err e = load(&ld, text, len);
    if (e != ES_OK)
        es_config_free(out);
    return e;
}

static enum es_err read_file(const char *path, char **text, size_t *len,
                             struct es_config_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t used = 0, capacity = 0;
    char *buf = NULL;
    if (fd < 0)
        goto fail;
    for (;;) {
        if (capacity - used < 65536) {
            capacity = capacity ? capacity * 2 : 65536;
            buf = es_realloc(buf, capacity);
        }
        ssize_t n = read(fd, buf + used, capacity - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        used += (size_t)n;
        if (used > MAX_FILE_SIZE)
            break; /* load() reports it: no need to read the rest */
    }
    close(fd);
    *text = buf;
    *len = used;
    return ES_OK;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    free(buf);
    copy_string(err->file, sizeof(err->file), path);
    snprintf(err->message, sizeof(err->message), "cannot read the config: %s", strerror(saved));
    return ES_ERR_IO;
}

enum es_err es_config_load(const char *path, struct es_config *out, struct es_config_error *err)
{
    struct es_config_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof(*err));
    memset(out, 0, sizeof(*out));
    char *text = NULL;
    size_t len = 0;
    enum es_err e = read_file(path, &text, &len, err);
    if (e != ES_OK)
        return e;
    e = es_config_load_string(path, text ? text : "", len, out, err);
    free(text);
    return e;
}

static void free_remote_strings(struct es_remote_storage *remote)
{
    free(remote->segment_cache_control);
    free(remote->playlist_cache_control);
}

void es_config_free(struct es_config *config)
{
    if (!config)
        return;
    for (size_t i = 0; i < config->camera_count; i++)
        free_camera_strings(&config->cameras[i]);
    free(config->cameras);
    free(config->path);
    free(config->local.root);
    free_remote_strings(&config->supabase.remote);
    free(config->supabase.url);
    free(config->supabase.key);
    free(config->supabase.bucket);
    free_remote_strings(&config->s3.remote);
    free(config->s3.endpoint);
    free(config->s3.region);
    free(config->s3.bucket);
    free(config->s3.access_key_id);
    free(config->s3.secret_access_key);
    free(config->s3.session_token);
    free(config->origin.listen);
    free(config->origin.token);
    free(config->origin.tls_cert);
    free(config->origin.tls_key);
    free(config->origin.cors);
    free(config->origin.web_root);
    free(config->origin.webrtc.bind);
    free(config->origin.webrtc.additional_hosts);
    free(config->origin.webrtc.ice_servers);
    free(config->origin.webrtc.turn_username);
    free(config->origin.webrtc.turn_credential);
    free(config->log_level);
    free(config->record_root);
    memset(config, 0, sizeof(*config));
}

const struct es_camera_config *es_config_find_camera(const struct es_config *config, const char *id)
{
    if (!config || !id)
        return NULL;
    for (size_t i = 0; i < config->camera_count; i++)
        if (config->cameras[i].id && strcmp(config->cameras[i].id, id) == 0)
            return &config->cameras[i];
    return NULL;
}
