/* Unit tests for src/origin/origin.c (issue 11): media names never repeat across runs
 * (items 10, DESIGN invariant 2), and max_connections is fitted to the descriptor limit
 * (item 7). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/log.h"
#include "origin/origin.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static struct es_origin *new_origin(void)
{
    struct es_origin_config c = {.listen = "127.0.0.1:0"};
    struct es_origin *o = NULL;
    assert_int_equal(es_origin_create(&c, &o), ES_OK);
    return o;
}

/* With `storage: []` the media sequence restarts at 0 in every run, so only the run's
 * directory keeps /live/<camera>/<run>/seg_0.m4s from naming the previous run's bytes. A
 * crash-restart can come back within the same second (the old scheme named init
 * sections by start second): runs started back to back must differ. */
static void test_origin_runs_started_back_to_back_have_different_ids(void **state)
{
    (void)state;
    char seen[64][32];
    for (int i = 0; i < 64; i++) {
        struct es_origin *o = new_origin();
        snprintf(seen[i], sizeof(seen[i]), "%s", es_origin_run(o));
        es_origin_destroy(o);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[k], seen[i]);
    }
}

static void test_origin_run_id_is_a_plain_name_that_never_repeats(void **state)
{
    (void)state;
    char a[32], b[32], c[32], d[32];
    /* The same second, a microsecond apart; the same microsecond, another pid. */
    es_origin_run_id(1796000000000000, 4242, a, sizeof(a));
    es_origin_run_id(1796000000000001, 4242, b, sizeof(b));
    es_origin_run_id(1796000000000000, 4243, c, sizeof(c));
    es_origin_run_id(1796000000000000, 4242, d, sizeof(d));
    assert_string_not_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_equal(a, d);
    assert_true(strlen(a) >= 16 && strlen(a) <= 24);
    assert_int_equal(strspn(a, "0123456789abcdef"), strlen(a));
    /* Later runs sort after earlier ones (same width while the clock has 13 hex digits). */
    assert_true(strcmp(a, b) < 0);
}

/* A hard descriptor limit below max_connections + the reserve: fewer connections are
 * served instead of running into EMFILE (where the listener used to spin). Run in a
 * child: lowering the hard limit cannot be undone. */
static void test_origin_fits_max_connections_to_the_descriptor_limit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {.rlim_cur = 300, .rlim_max = 300};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(10);
        unsigned fit = es_origin_fit_fd_limit(4096);
        if (fit >= 300 || fit < 16)
            _exit(11);
        if (es_origin_fit_fd_limit(20) != 20) /* fits: unchanged */
            _exit(12);
        rl.rlim_cur = rl.rlim_max = 100; /* absurdly low: still a few */
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || es_origin_fit_fd_limit(4096) != 16)
            _exit(13);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_origin_raises_the_soft_limit_when_the_hard_one_allows(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 1300)
        skip();
    assert_int_equal(es_origin_fit_fd_limit(1000), 1000);
    struct rlimit now;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
    assert_true(now.rlim_cur >= 1000);
}

int main(void)
{
    es_log_set_level(ES_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_runs_started_back_to_back_have_different_ids),
        cmocka_unit_test(test_origin_run_id_is_a_plain_name_that_never_repeats),
        cmocka_unit_test(test_origin_fits_max_connections_to_the_descriptor_limit),
        cmocka_unit_test(test_origin_raises_the_soft_limit_when_the_hard_one_allows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
