/* schema_fixture — see schema_fixture.h. */
#include "tests/unit/schema_fixture.h"

#include <stdio.h>

schema_registry_t *schemas;

int
schema_fixture_setup (void **state)
{
    (void) state;
    char err[512];
    schemas = schema_registry_load_embedded (err, sizeof err);
    if (!schemas) {
        fprintf (stderr, "schemas: %s\n", err);
        return -1;
    }
    return 0;
}

int
schema_fixture_teardown (void **state)
{
    (void) state;
    schema_registry_destroy (&schemas);
    return 0;
}
