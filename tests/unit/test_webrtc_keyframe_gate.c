/* Unit tests for src/webrtc/keyframe_gate.c: a passthrough viewer's video
 * after a loss, a PLI/FIR or a dropped packet waits for the camera's next
 * keyframe; receiver reports close the gate only when the loss count grows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "webrtc/keyframe_gate.h"

static void test_gate_new_viewer_starts_at_a_keyframe(void **state)
{
    (void)state;
    struct es_keyframe_gate g;
    es_keyframe_gate_init(&g);
    assert_false(es_keyframe_gate_pass(&g, false));
    assert_false(es_keyframe_gate_pass(&g, false));
    assert_true(es_keyframe_gate_pass(&g, true));
    assert_true(es_keyframe_gate_pass(&g, false));
    assert_int_equal(g.frames_dropped, 2);
    assert_int_equal(g.closings, 0);
}

static void test_gate_closed_drops_everything_up_to_the_next_keyframe(void **state)
{
    (void)state;
    struct es_keyframe_gate g;
    es_keyframe_gate_init(&g);
    assert_true(es_keyframe_gate_pass(&g, true));
    es_keyframe_gate_close(&g); /* a PLI, or a packet the socket would not take */
    es_keyframe_gate_close(&g); /* twice is one closing */
    for (int i = 0; i < 29; i++)
        assert_false(es_keyframe_gate_pass(&g, false));
    assert_true(es_keyframe_gate_pass(&g, true));
    assert_true(es_keyframe_gate_pass(&g, false));
    assert_int_equal(g.frames_dropped, 29);
    assert_int_equal(g.closings, 1);
}

static void test_gate_closes_when_reported_loss_grows(void **state)
{
    (void)state;
    struct es_keyframe_gate g;
    es_keyframe_gate_init(&g);
    assert_true(es_keyframe_gate_pass(&g, true));
    /* The first report sets the reference, even with losses before. */
    assert_false(es_keyframe_gate_on_lost(&g, 3));
    assert_true(es_keyframe_gate_pass(&g, false));
    assert_false(es_keyframe_gate_on_lost(&g, 3)); /* nothing new */
    assert_true(es_keyframe_gate_pass(&g, false));
    assert_true(es_keyframe_gate_on_lost(&g, 11)); /* a burst of 8 */
    assert_false(es_keyframe_gate_pass(&g, false));
    assert_false(es_keyframe_gate_pass(&g, false));
    assert_true(es_keyframe_gate_pass(&g, true));
    /* Duplicates lower the count (RFC 3550 §6.4.1): not a loss. */
    assert_false(es_keyframe_gate_on_lost(&g, 9));
    assert_true(es_keyframe_gate_pass(&g, false));
    assert_true(es_keyframe_gate_on_lost(&g, 10));
    assert_false(es_keyframe_gate_pass(&g, false));
    assert_int_equal(g.closings, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_new_viewer_starts_at_a_keyframe),
        cmocka_unit_test(test_gate_closed_drops_everything_up_to_the_next_keyframe),
        cmocka_unit_test(test_gate_closes_when_reported_loss_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
