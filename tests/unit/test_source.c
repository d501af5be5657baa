/* Unit tests for src/source/source.c: the reconnect backoff a camera's loop
 * follows (es_source_backoff). Wrong credentials must not be retried every
 * second forever (that spams the log and can lock the camera's account): after
 * an authentication refusal the delay is minutes, and the state is reported
 * once per change, not once per attempt. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"
#include "source/source.h"

#include <stdbool.h>

static void test_source_backoff_doubles_from_min_to_max_on_ordinary_failures(void **state)
{
    (void)state;
    struct es_source_backoff b;
    es_source_backoff_init(&b, 100, 1000);
    bool changed = false;
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed), 100);
    assert_true(changed);
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_TIMEOUT, &changed), 200);
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed), 400);
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed), 800);
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed), 1000);
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed), 1000);
    es_source_backoff_reset(&b); /* a connection that streamed */
    assert_int_equal(es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed), 100);
}

static void test_source_backoff_after_a_401_waits_minutes_and_reports_once(void **state)
{
    (void)state;
    struct es_source_backoff b;
    es_source_backoff_init(&b, 100, 1000);
    bool changed = false;
    es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed);
    es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed);

    /* Credentials refused: a minute at least, then longer, capped. */
    unsigned d = es_source_backoff_failed(&b, ES_ERR_AUTH, &changed);
    assert_true(changed);
    assert_true(d >= 60000);
    unsigned total = d, previous = d;
    for (int i = 0; i < 20; i++) {
        d = es_source_backoff_failed(&b, ES_ERR_AUTH, &changed);
        assert_false(changed); /* the same state: not reported again */
        assert_true(d >= previous);
        assert_true(d <= ES_SOURCE_AUTH_BACKOFF_MAX_MS);
        previous = d;
        total += d;
    }
    assert_int_equal(d, ES_SOURCE_AUTH_BACKOFF_MAX_MS);
    assert_true(ES_SOURCE_AUTH_BACKOFF_MAX_MS >= 5 * 60000);
    /* 21 attempts take hours, where the camera's own settings would take 21 s. */
    assert_true(total > 3600000u);

    /* Another failure is a change: reported, and back to the camera's pace. */
    d = es_source_backoff_failed(&b, ES_ERR_SOURCE, &changed);
    assert_true(changed);
    assert_int_equal(d, 100);
    d = es_source_backoff_failed(&b, ES_ERR_AUTH, &changed);
    assert_true(changed);
    assert_true(d >= 60000);
    /* A connection resets both. */
    es_source_backoff_reset(&b);
    d = es_source_backoff_failed(&b, ES_ERR_AUTH, &changed);
    assert_true(changed);
    assert_int_equal(d, ES_SOURCE_AUTH_BACKOFF_MIN_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_backoff_doubles_from_min_to_max_on_ordinary_failures),
        cmocka_unit_test(test_source_backoff_after_a_401_waits_minutes_and_reports_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
