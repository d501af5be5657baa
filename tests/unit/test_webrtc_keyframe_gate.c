/* Unit tests for src/webrtc/keyframe_gate.c: a passthrough viewer's video
 * after a loss, a PLI/FIR or a dropped packet waits for the camera's next
 * keyframe; receiver reports close the gate only when the loss count grows
 * for packets sent after the keyframe that last opened it. Sequence numbers:
 * ten packets a frame, advanced only for frames that go out (session.c). */
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
    assert_false(es_keyframe_gate_pass(&g, false, 0));
    assert_false(es_keyframe_gate_pass(&g, false, 0));
    assert_true(es_keyframe_gate_pass(&g, true, 0));
    assert_true(es_keyframe_gate_pass(&g, false, 0));
    assert_int_equal(g.frames_dropped, 2);
    assert_int_equal(g.closings, 0);
}

static void test_gate_closed_drops_everything_up_to_the_next_keyframe(void **state)
{
    (void)state;
    struct es_keyframe_gate g;
    es_keyframe_gate_init(&g);
    assert_true(es_keyframe_gate_pass(&g, true, 0));
    es_keyframe_gate_close(&g); /* a PLI, or a packet the socket would not take */
    es_keyframe_gate_close(&g); /* twice is one closing */
    for (int i = 0; i < 29; i++)
        assert_false(es_keyframe_gate_pass(&g, false, 0));
    assert_true(es_keyframe_gate_pass(&g, true, 0));
    assert_true(es_keyframe_gate_pass(&g, false, 0));
    assert_int_equal(g.frames_dropped, 29);
    assert_int_equal(g.closings, 1);
}

static void test_gate_closes_when_reported_loss_grows(void **state)
{
    (void)state;
    struct es_keyframe_gate g;
    es_keyframe_gate_init(&g);
    assert_true(es_keyframe_gate_pass(&g, true, 100));
    /* The first report sets the reference, even with losses before. */
    assert_false(es_keyframe_gate_on_lost(&g, 3, 109));
    assert_true(es_keyframe_gate_pass(&g, false, 110));
    assert_false(es_keyframe_gate_on_lost(&g, 3, 119)); /* nothing new */
    assert_true(es_keyframe_gate_pass(&g, false, 120));
    assert_true(es_keyframe_gate_on_lost(&g, 11, 129)); /* a burst of 8 */
    assert_false(es_keyframe_gate_pass(&g, false, 130));
    assert_false(es_keyframe_gate_pass(&g, false, 130));
    assert_true(es_keyframe_gate_pass(&g, true, 130));
    /* Duplicates lower the count (RFC 3550 §6.4.1): not a loss. */
    assert_false(es_keyframe_gate_on_lost(&g, 9, 139));
    assert_true(es_keyframe_gate_pass(&g, false, 140));
    assert_true(es_keyframe_gate_on_lost(&g, 10, 149));
    assert_false(es_keyframe_gate_pass(&g, false, 150));
    assert_int_equal(g.closings, 2);
}

static void test_gate_loss_revealed_by_the_keyframe_does_not_close_it_again(void **state)
{
    (void)state;
    struct es_keyframe_gate g;
    es_keyframe_gate_init(&g);
    assert_true(es_keyframe_gate_pass(&g, true, 100));
    assert_false(es_keyframe_gate_on_lost(&g, 0, 119));
    assert_true(es_keyframe_gate_pass(&g, false, 120));
    assert_true(es_keyframe_gate_pass(&g, false, 130));
    /* A burst: 2 lost up to 135, the gate closes; 136-139 are lost too, so
     * the receiver's highest stays at 135 while nothing more goes out. */
    assert_true(es_keyframe_gate_on_lost(&g, 2, 135));
    assert_false(es_keyframe_gate_pass(&g, false, 140));
    assert_false(es_keyframe_gate_on_lost(&g, 2, 135));
    /* The keyframe (140-149) shows the receiver 136-139 lost: the report
     * that covers it counts 4 more, all sent before it. */
    assert_true(es_keyframe_gate_pass(&g, true, 140));
    assert_false(es_keyframe_gate_on_lost(&g, 6, 149));
    assert_true(es_keyframe_gate_pass(&g, false, 150));
    /* A loss after the keyframe closes it. */
    assert_true(es_keyframe_gate_on_lost(&g, 7, 159));
    assert_false(es_keyframe_gate_pass(&g, false, 160));
    /* So does one in the keyframe itself: the receiver had everything up to
     * 159, so 2 lost of 160-175 are new. */
    assert_true(es_keyframe_gate_pass(&g, true, 160));
    assert_true(es_keyframe_gate_pass(&g, false, 170));
    assert_true(es_keyframe_gate_on_lost(&g, 9, 175));
    /* 176 and 177 lost, 178 and 179 late: a report short of the next
     * keyframe (180) counts them, and the one that covers it adds nothing. */
    assert_true(es_keyframe_gate_pass(&g, true, 180));
    assert_false(es_keyframe_gate_on_lost(&g, 11, 179));
    assert_false(es_keyframe_gate_on_lost(&g, 11, 189));
    assert_true(es_keyframe_gate_pass(&g, false, 190));
    assert_int_equal(g.closings, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_new_viewer_starts_at_a_keyframe),
        cmocka_unit_test(test_gate_closed_drops_everything_up_to_the_next_keyframe),
        cmocka_unit_test(test_gate_closes_when_reported_loss_grows),
        cmocka_unit_test(test_gate_loss_revealed_by_the_keyframe_does_not_close_it_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
