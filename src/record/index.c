#include "record/index.h"

#include "core/alloc.h"
#include "core/log.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* PRAGMA user_version of this schema; anything else is not ours. */
#define SCHEMA_VERSION 1

struct es_record_index {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *add, *remove, *query, *oldest, *has, *totals, *breaks, *end_before, *break_at;
};

/* The covering index holds every column a range query reads, so a query
 * walks one B-tree in time order and never touches the table. */
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS segments ("
    " msn INTEGER PRIMARY KEY,"
    " start_ms INTEGER NOT NULL,"
    " duration_ms INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " discontinuity INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS segments_by_start"
    " ON segments (start_ms, duration_ms, discontinuity, bytes);"
    /* Only the segments that start a run: the timeline reads these. */
    "CREATE INDEX IF NOT EXISTS segments_breaks ON segments (start_ms) WHERE discontinuity = 1;";

static void log_sqlite(const struct es_record_index *x, const char *what, int rc)
{
    es_log(ES_LOG_ERROR, "record.index", "event=sqlite_failed file=%s op=%s code=%d error=\"%s\"",
           x->path, what, rc, x->db ? sqlite3_errmsg(x->db) : sqlite3_errstr(rc));
}

static int exec(struct es_record_index *x, const char *sql)
{
    return sqlite3_exec(x->db, sql, NULL, NULL, NULL);
}

static int int_pragma(struct es_record_index *x, const char *sql, int *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(x->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static bool quick_check_ok(struct es_record_index *x)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(x->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
        return false;
    bool ok = sqlite3_step(st) == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
    sqlite3_finalize(st);
    return ok;
}

void es_record_index_close(struct es_record_index *x)
{
    if (!x)
        return;
    sqlite3_stmt *all[] = {x->add,    x->remove, x->query,      x->oldest,  x->has,
                           x->totals, x->breaks, x->end_before, x->break_at};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(x->db);
    free(x->path);
    free(x);
}

enum es_err es_record_index_open(const char *path, bool read_only, struct es_record_index **out)
{
    *out = NULL;
    struct es_record_index *x = es_calloc(1, sizeof(*x));
    x->path = es_strdup(path);
    /* Each connection belongs to one thread: no SQLite mutexes needed. The
     * query side opens read-write without create: a WAL reader may need to
     * make the -shm file. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (read_only ? 0 : SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &x->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (!read_only)
            log_sqlite(x, "open", rc);
        es_record_index_close(x);
        return ES_ERR_IO;
    }
    sqlite3_busy_timeout(x->db, 2000);
    int version = -1;
    rc = int_pragma(x, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK) {
        /* SQLITE_NOTADB, SQLITE_CORRUPT: not an index we can read. */
        es_log(ES_LOG_WARN, "record.index", "event=unreadable file=%s error=\"%s\"", path,
               sqlite3_errmsg(x->db));
        es_record_index_close(x);
        return ES_ERR_INVALID;
    }
    if (!read_only) {
        if (version != 0 && version != SCHEMA_VERSION) {
            es_log(ES_LOG_WARN, "record.index", "event=foreign_schema file=%s user_version=%d",
                   path, version);
            es_record_index_close(x);
            return ES_ERR_INVALID;
        }
        /* WAL: the origin reads while the camera writes. synchronous=NORMAL:
         * a power cut may lose the newest rows but never corrupts the index;
         * their files are found again at start (reconcile). */
        if (exec(x, "PRAGMA journal_mode=WAL") != SQLITE_OK ||
            exec(x, "PRAGMA synchronous=NORMAL") != SQLITE_OK || !quick_check_ok(x) ||
            exec(x, SCHEMA) != SQLITE_OK ||
            (version == 0 && exec(x, "PRAGMA user_version=1") != SQLITE_OK)) {
            es_log(ES_LOG_WARN, "record.index", "event=unreadable file=%s error=\"%s\"", path,
                   sqlite3_errmsg(x->db));
            es_record_index_close(x);
            return ES_ERR_INVALID;
        }
    } else if (version != SCHEMA_VERSION) {
        es_record_index_close(x);
        return ES_ERR_INVALID;
    }
    const struct {
        sqlite3_stmt **st;
        const char *sql;
    } statements[] = {
        {&x->add, "INSERT OR REPLACE INTO segments (msn, start_ms, duration_ms, bytes, "
                  "discontinuity) VALUES (?, ?, ?, ?, ?)"},
        {&x->remove, "DELETE FROM segments WHERE msn = ?"},
        /* Indexed on start: a segment that began up to MAX_SEGMENT before the
         * range may still reach into it. */
        {&x->query, "SELECT msn, start_ms, duration_ms, bytes, discontinuity FROM segments "
                    "WHERE start_ms >= ? AND start_ms < ? ORDER BY start_ms, msn"},
        {&x->oldest, "SELECT msn, start_ms, duration_ms, bytes, discontinuity FROM segments "
                     "ORDER BY start_ms, msn LIMIT ?"},
        {&x->has, "SELECT 1 FROM segments WHERE msn = ?"},
        {&x->breaks, "SELECT start_ms FROM segments WHERE discontinuity = 1 AND start_ms > ? "
                     "AND start_ms < ? ORDER BY start_ms"},
        {&x->break_at, "SELECT start_ms FROM segments WHERE discontinuity = 1 AND start_ms <= ? "
                       "ORDER BY start_ms DESC LIMIT 1"},
        {&x->end_before, "SELECT start_ms + duration_ms FROM segments WHERE start_ms < ? "
                         "ORDER BY start_ms DESC LIMIT 1"},
        {&x->totals, "SELECT COUNT(*), TOTAL(bytes), MIN(start_ms), "
                     "(SELECT start_ms + duration_ms FROM segments ORDER BY start_ms DESC, "
                     "msn DESC LIMIT 1), MAX(msn) FROM segments"},
    };
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        rc = sqlite3_prepare_v3(x->db, statements[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                statements[i].st, NULL);
        if (rc != SQLITE_OK) {
            es_log(ES_LOG_WARN, "record.index", "event=unreadable file=%s error=\"%s\"", path,
                   sqlite3_errmsg(x->db));
            es_record_index_close(x);
            return ES_ERR_INVALID;
        }
    }
    *out = x;
    return ES_OK;
}

static enum es_err step_done(struct es_record_index *x, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_sqlite(x, what, rc);
        return ES_ERR_IO;
    }
    return ES_OK;
}

enum es_err es_record_index_add(struct es_record_index *x, const struct es_record_entry *e)
{
    sqlite3_bind_int64(x->add, 1, (sqlite3_int64)e->msn);
    sqlite3_bind_int64(x->add, 2, e->start_ms);
    sqlite3_bind_int64(x->add, 3, e->duration_ms);
    sqlite3_bind_int64(x->add, 4, (sqlite3_int64)e->bytes);
    sqlite3_bind_int(x->add, 5, e->discontinuity);
    return step_done(x, x->add, "add");
}

enum es_err es_record_index_remove(struct es_record_index *x, uint64_t msn)
{
    sqlite3_bind_int64(x->remove, 1, (sqlite3_int64)msn);
    return step_done(x, x->remove, "remove");
}

enum es_err es_record_index_begin(struct es_record_index *x)
{
    int rc = exec(x, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        log_sqlite(x, "begin", rc);
        return ES_ERR_IO;
    }
    return ES_OK;
}

enum es_err es_record_index_commit(struct es_record_index *x)
{
    int rc = exec(x, "COMMIT");
    if (rc != SQLITE_OK) {
        log_sqlite(x, "commit", rc);
        return ES_ERR_IO;
    }
    return ES_OK;
}

static void row_entry(sqlite3_stmt *st, struct es_record_entry *e)
{
    e->msn = (uint64_t)sqlite3_column_int64(st, 0);
    e->start_ms = sqlite3_column_int64(st, 1);
    e->duration_ms = (uint32_t)sqlite3_column_int64(st, 2);
    e->bytes = (uint64_t)sqlite3_column_int64(st, 3);
    e->discontinuity = sqlite3_column_int(st, 4) != 0;
}

enum es_err es_record_index_query(struct es_record_index *x, int64_t from_ms, int64_t to_ms,
                                  size_t max, es_record_entry_fn fn, void *opaque, size_t *count,
                                  bool *truncated)
{
    *count = 0;
    *truncated = false;
    sqlite3_bind_int64(x->query, 1, from_ms - ES_RECORD_MAX_SEGMENT_MS);
    sqlite3_bind_int64(x->query, 2, to_ms);
    int rc;
    while ((rc = sqlite3_step(x->query)) == SQLITE_ROW) {
        struct es_record_entry e;
        row_entry(x->query, &e);
        if (e.start_ms + (int64_t)e.duration_ms <= from_ms)
            continue; /* ended before the range */
        if (*count == max) {
            *truncated = true;
            break;
        }
        fn(opaque, &e);
        (*count)++;
    }
    sqlite3_reset(x->query);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_sqlite(x, "query", rc);
        return ES_ERR_IO;
    }
    return ES_OK;
}

struct collected {
    struct es_record_entry *items;
    size_t count, cap;
};

static void collect(void *opaque, const struct es_record_entry *e)
{
    struct collected *c = opaque;
    if (c->count == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->items = es_realloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->count++] = *e;
}

enum es_err es_record_index_collect(struct es_record_index *x, int64_t from_ms, int64_t to_ms,
                                    size_t max, struct es_record_entry **out, size_t *count,
                                    bool *truncated)
{
    struct collected c = {NULL, 0, 0};
    enum es_err err = es_record_index_query(x, from_ms, to_ms, max, collect, &c, count, truncated);
    if (err != ES_OK) {
        free(c.items);
        c.items = NULL;
        *count = 0;
    }
    *out = c.items;
    return err;
}

enum es_err es_record_index_oldest(struct es_record_index *x, struct es_record_entry *out,
                                   size_t max, size_t *count)
{
    *count = 0;
    sqlite3_bind_int64(x->oldest, 1, (sqlite3_int64)max);
    int rc;
    while (*count < max && (rc = sqlite3_step(x->oldest)) == SQLITE_ROW)
        row_entry(x->oldest, &out[(*count)++]);
    sqlite3_reset(x->oldest);
    return ES_OK;
}

enum es_err es_record_index_totals(struct es_record_index *x, struct es_record_totals *out)
{
    memset(out, 0, sizeof(*out));
    int rc = sqlite3_step(x->totals);
    if (rc == SQLITE_ROW) {
        out->segments = (uint64_t)sqlite3_column_int64(x->totals, 0);
        out->bytes = (uint64_t)sqlite3_column_double(x->totals, 1);
        if (out->segments) {
            out->oldest_ms = sqlite3_column_int64(x->totals, 2);
            out->newest_end_ms = sqlite3_column_int64(x->totals, 3);
            out->have_msn = true;
            out->max_msn = (uint64_t)sqlite3_column_int64(x->totals, 4);
        }
    }
    sqlite3_reset(x->totals);
    if (rc != SQLITE_ROW) {
        log_sqlite(x, "totals", rc);
        return ES_ERR_IO;
    }
    return ES_OK;
}

bool es_record_index_has(struct es_record_index *x, uint64_t msn)
{
    sqlite3_bind_int64(x->has, 1, (sqlite3_int64)msn);
    bool found = sqlite3_step(x->has) == SQLITE_ROW;
    sqlite3_reset(x->has);
    return found;
}

static void first_overlapping(void *opaque, const struct es_record_entry *e)
{
    *(int64_t *)opaque = e->start_ms;
}

/* End of the last segment that starts before `before_ms`. */
static bool end_before(struct es_record_index *x, int64_t before_ms, int64_t *end_ms)
{
    sqlite3_bind_int64(x->end_before, 1, before_ms);
    bool found = sqlite3_step(x->end_before) == SQLITE_ROW;
    if (found)
        *end_ms = sqlite3_column_int64(x->end_before, 0);
    sqlite3_reset(x->end_before);
    return found;
}

enum es_err es_record_index_spans(struct es_record_index *x, int64_t from_ms, int64_t to_ms,
                                  es_record_span_fn fn, void *opaque, size_t *count)
{
    *count = 0;
    int64_t run_start = 0;
    size_t n;
    bool truncated;
    /* The first run starts at the first segment in range (its flag may have
     * gone with an older segment that retention deleted). */
    enum es_err err =
        es_record_index_query(x, from_ms, to_ms, 1, first_overlapping, &run_start, &n, &truncated);
    if (err != ES_OK || n == 0)
        return err;
    /* Its run began at the latest break up to it, or at the oldest segment
     * kept when retention took that break away. */
    struct es_record_entry oldest;
    size_t found = 0;
    es_record_index_oldest(x, &oldest, 1, &found);
    sqlite3_bind_int64(x->break_at, 1, run_start);
    int64_t began = found ? oldest.start_ms : run_start;
    if (sqlite3_step(x->break_at) == SQLITE_ROW && sqlite3_column_int64(x->break_at, 0) > began)
        began = sqlite3_column_int64(x->break_at, 0);
    sqlite3_reset(x->break_at);
    run_start = began;
    /* Each run ends where the next begins; the last one in range where the
     * first break after the range begins (or with the newest segment). */
    sqlite3_bind_int64(x->breaks, 1, run_start);
    sqlite3_bind_int64(x->breaks, 2, INT64_MAX);
    int rc;
    for (;;) {
        rc = sqlite3_step(x->breaks);
        int64_t next = rc == SQLITE_ROW ? sqlite3_column_int64(x->breaks, 0) : INT64_MAX;
        int64_t end;
        if (end_before(x, next, &end)) {
            fn(opaque, run_start, end);
            (*count)++;
        }
        if (rc != SQLITE_ROW || next >= to_ms)
            break;
        run_start = next;
    }
    sqlite3_reset(x->breaks);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        log_sqlite(x, "spans", rc);
        return ES_ERR_IO;
    }
    return ES_OK;
}

struct reconcile {
    struct es_record_index *index;
    size_t added;
};

static void reconcile_one(void *opaque, const struct es_record_entry *e)
{
    struct reconcile *r = opaque;
    if (es_record_index_has(r->index, e->msn))
        return;
    if (es_record_index_add(r->index, e) == ES_OK)
        r->added++;
}

size_t es_record_index_reconcile(struct es_record_index *x, const char *camera_dir, int64_t from_ms,
                                 int64_t to_ms)
{
    struct reconcile r = {x, 0};
    bool tx = es_record_index_begin(x) == ES_OK;
    es_record_scan(camera_dir, from_ms, to_ms, reconcile_one, &r);
    if (tx)
        es_record_index_commit(x);
    return r.added;
}
