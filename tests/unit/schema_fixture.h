/* schema_fixture — the embedded schema registry for a group of unit tests (the schemas every
 * test of the group defaults and validates against), loaded once by the group's setup:
 *
 *     return cmocka_run_group_tests (tests, schema_fixture_setup, schema_fixture_teardown);
 *
 * Linked into the tests named in CMakeLists.txt (beside sched_fixture.c and plane.c). */
#ifndef TROUPE_TEST_SCHEMA_FIXTURE_H
#define TROUPE_TEST_SCHEMA_FIXTURE_H

#include "core/schema.h"

/* The loaded registry: set by schema_fixture_setup, NULL again after schema_fixture_teardown. */
extern schema_registry_t *schemas;

/* cmocka group setup: loads the embedded registry into schemas. 0, or -1 (the reason on stderr)
 * when it does not load: cmocka then fails the group. */
int schema_fixture_setup (void **state);
/* cmocka group teardown: destroys schemas. Always 0. */
int schema_fixture_teardown (void **state);

#endif
