/* dir_fixture — a fresh, empty directory for each unit test that writes files (a store's log, a
 * shim's state, a fake cgroup or /proc tree), removed after it:
 *
 *     cmocka_unit_test_setup_teardown (a_test, dir_fixture_setup, dir_fixture_teardown),
 *
 * Linked into the tests named in CMakeLists.txt (beside schema_fixture.c). */
#ifndef TROUPE_TEST_DIR_FIXTURE_H
#define TROUPE_TEST_DIR_FIXTURE_H

/* The directory's path: a new /tmp/troupe-unit-XXXXXX, set by dir_fixture_setup. */
extern char fixture_dir[64];

/* cmocka setup: makes fixture_dir. 0, or -1 (the reason on stderr) when mkdtemp fails: cmocka
 * then fails the test. */
int dir_fixture_setup (void **state);
/* cmocka teardown: removes fixture_dir and all below it. 0, or -1 when rm -rf fails. */
int dir_fixture_teardown (void **state);

#endif
