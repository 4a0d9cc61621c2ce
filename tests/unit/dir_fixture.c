/* dir_fixture — see dir_fixture.h. */
#include "tests/unit/dir_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char fixture_dir[64];

int
dir_fixture_setup (void **state)
{
    (void) state;
    snprintf (fixture_dir, sizeof fixture_dir, "/tmp/troupe-unit-XXXXXX");
    if (!mkdtemp (fixture_dir)) {
        fprintf (stderr, "mkdtemp %s: %s\n", fixture_dir, strerror (errno));
        return -1;
    }
    return 0;
}

int
dir_fixture_teardown (void **state)
{
    (void) state;
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", fixture_dir);
    return system (cmd) == 0 ? 0 : -1;
}
