/* objcache (what InterPodAffinity derives from an existing pod, kept by Pod object): a value is
 * found again by its object's address and by nothing else, a reference on the object is held
 * while the entry lives (so the address cannot come back as another object), a put on a kept
 * object replaces (frees) the old value, and entries not looked up since the previous sweep are
 * dropped (value freed, reference given back) so the table follows what is used, not every
 * object ever seen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "actors/scheduler/plugins/objcache.h"

static int freed;

static void
count_free (void *v)
{
    freed += v != NULL;
    free (v);
}

static int *
val (int x)
{
    int *p = malloc (sizeof *p);
    assert_non_null (p);
    *p = x;
    return p;
}

static void
get_put_replace (void **state)
{
    (void) state;
    freed = 0;
    objcache_t *c = objcache_new (count_free);
    assert_non_null (c);
    json_t *a = json_object (), *b = json_object ();
    assert_null (objcache_get (c, a));
    assert_null (objcache_get (c, NULL));
    assert_int_equal (objcache_put (c, a, val (1)), 0);
    assert_int_equal (a->refcount, 2); /* the cache holds one */
    assert_int_equal (*(int *) objcache_get (c, a), 1);
    assert_null (objcache_get (c, b)); /* an equal object elsewhere is another object */
    assert_int_equal (objcache_put (c, a, val (2)), 0);
    assert_int_equal (freed, 1); /* the old value */
    assert_int_equal (a->refcount, 2); /* still one reference */
    assert_int_equal (*(int *) objcache_get (c, a), 2);
    assert_int_equal (objcache_len (c), 1);
    assert_int_equal (objcache_put (c, NULL, val (3)), -1); /* refused, value freed */
    assert_int_equal (freed, 2);
    objcache_destroy (&c);
    assert_null (c);
    assert_int_equal (freed, 3);
    assert_int_equal (a->refcount, 1);
    json_decref (a);
    json_decref (b);
    objcache_destroy (&c); /* NULL: nothing */
}

/* 40 objects looked up all along, 5,000 others put once and never asked for: the 40 stay, the
 * table stays small, every dropped value is freed and every dropped object's reference given
 * back; an object put and not looked up before the next sweep goes. */
static void
sweep_keeps_the_used (void **state)
{
    (void) state;
    freed = 0;
    objcache_t *c = objcache_new (count_free);
    json_t *hot[40], *cold[5000];
    for (int i = 0; i < 40; i++) {
        hot[i] = json_integer (i);
        assert_int_equal (objcache_put (c, hot[i], val (i)), 0);
        for (int k = 0; k <= i; k++)
            assert_non_null (objcache_get (c, hot[k]));
    }
    size_t most = 0;
    for (int i = 0; i < 5000; i++) {
        cold[i] = json_integer (1000 + i);
        assert_int_equal (objcache_put (c, cold[i], val (1000 + i)), 0);
        for (int k = 0; k < 40; k++) {
            int *v = objcache_get (c, hot[k]);
            assert_non_null (v);
            assert_int_equal (*v, k);
        }
        if (objcache_len (c) > most)
            most = objcache_len (c);
    }
    assert_true (most < 400);
    int kept = 0;
    for (int i = 0; i < 5000; i++) {
        int *v = objcache_get (c, cold[i]);
        if (v) {
            assert_int_equal (*v, 1000 + i);
            assert_int_equal (cold[i]->refcount, 2);
            kept++;
        } else
            assert_int_equal (cold[i]->refcount, 1);
    }
    assert_int_equal (objcache_len (c), 40 + (size_t) kept);
    assert_true (kept < 300);
    assert_int_equal (freed, 5000 - kept);
    objcache_destroy (&c);
    assert_int_equal (freed, 5040);
    for (int i = 0; i < 40; i++) {
        assert_int_equal (hot[i]->refcount, 1);
        json_decref (hot[i]);
    }
    for (int i = 0; i < 5000; i++)
        json_decref (cold[i]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (get_put_replace),
        cmocka_unit_test (sweep_keeps_the_used),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
