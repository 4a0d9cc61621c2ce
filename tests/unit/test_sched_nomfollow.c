/* nomfollow: a pending pod's nomination follows status.nominatedNodeName as Kubernetes'
 * UpdateNominatedPod when no write of the scheduler's is in flight, and stays in memory while one
 * is (the echo of an older write must not move it back). Table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "actors/scheduler/nomfollow.h"

typedef struct {
    const char *label;
    const char *held, *wrote, *onn, *nn;
    nf_action_t want;
    int landed;
} row_t;

static const row_t rows[] = {
    /* nothing in flight: Kubernetes' rules */
    {"first nomination seen (another scheduler's, or ours after a restart)", NULL, NULL, NULL, "n1", NF_SET, 0},
    {"the same node as memory: nothing", "n1", NULL, "n1", "n1", NF_KEEP, 0},
    {"changed there: followed", "n1", NULL, "n1", "n2", NF_SET, 0},
    {"removed there: the nomination goes", "n1", NULL, "n1", NULL, NF_CLEAR, 0},
    {"removed there as \"\"", "n1", NULL, "n1", "", NF_CLEAR, 0},
    {"absent before and after: memory stays (a preemption not written yet)", "n1", NULL, NULL, NULL, NF_KEEP, 0},
    {"absent and none held: nothing", NULL, NULL, NULL, NULL, NF_KEEP, 0},
    {"removed there, none held: nothing", NULL, NULL, "n1", NULL, NF_KEEP, 0},
    /* our write in flight */
    {"our n2 in flight, the echo of our older n1 write: memory (n2) stays", "n2", "n2", NULL, "n1", NF_KEEP, 0},
    {"our n2 in flight, an echo without the field: stays", "n2", "n2", "n1", "n1", NF_KEEP, 0},
    {"our n2 in flight, an older echo that removed it: stays", "n2", "n2", "n1", NULL, NF_KEEP, 0},
    {"our n2 comes back: landed, memory already there", "n2", "n2", "n1", "n2", NF_KEEP, 1},
    {"our clear in flight, the older echo still names n1: nothing held stays nothing", NULL, "", NULL, "n1", NF_KEEP, 0},
    {"our clear comes back", NULL, "", "n1", NULL, NF_KEEP, 1},
    {"our clear comes back as \"\"", NULL, "", "n1", "", NF_KEEP, 1},
    {"our n1 came back after memory dropped it (a failed binding): followed again", NULL, "n1", NULL, "n1", NF_SET, 1},
};

static void
table (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *r = &rows[i];
        int landed = -1;
        nf_action_t a = nomfollow (r->held, r->wrote, r->onn, r->nn, &landed);
        if (a != r->want || landed != r->landed)
            fail_msg ("row %zu (%s): action %d landed %d, want %d and %d", i, r->label, a, landed, r->want, r->landed);
        assert_int_equal (nomfollow (r->held, r->wrote, r->onn, r->nn, NULL), r->want);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (table)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
