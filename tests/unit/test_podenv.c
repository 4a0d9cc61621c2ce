/* podenv: Kubernetes' $(VAR_NAME) expansion of command, args and env values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "actors/agent/podenv.h"
#include "core/value.h"

static void
expect (const char *in, const json_t *vars, const char *want)
{
    char *got = podenv_expand (in, vars);
    if (strcmp (got, want))
        fail_msg ("expand \"%s\": got \"%s\", want \"%s\"", in, got, want);
    free (got);
}

static void
expand_rules (void **state)
{
    (void) state;
    json_t *v = json_pack ("{s:s,s:s,s:s}", "A", "alpha", "B_2", "b", "EMPTY", "");
    expect ("", v, "");
    expect ("plain", v, "plain");
    expect ("$(A)", v, "alpha");
    expect ("x$(A)y$(B_2)z", v, "xalphaybz");
    expect ("[$(EMPTY)]", v, "[]");
    expect ("$(MISSING)", v, "$(MISSING)");           /* undefined: unchanged */
    expect ("tick $(date +%T)", v, "tick $(date +%T)"); /* a shell's command substitution survives */
    expect ("$$(A)", v, "$(A)");                       /* escaped */
    expect ("$$$(A)", v, "$alpha");
    expect ("cost: $$5", v, "cost: $5");
    expect ("echo $$", v, "echo $");
    expect ("$A $HOME", v, "$A $HOME"); /* shell variables are not Kubernetes references */
    expect ("$(A", v, "$(A");           /* never closed */
    expect ("end$", v, "end$");
    expect ("$(A)$(A)", NULL, "$(A)$(A)");
    json_decref (v);
}

static void
container_env_order (void **state)
{
    (void) state;
    json_t *spec = json_pack ("{s:s,s:[s,s],s:[s,s],s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s},{s:s,s:s}]}", "name", "c",
                              "command", "/bin/sh", "-c", "args", "echo $(GREETING) $(LATE) $$(GREETING)", "$(NOPE)",
                              "env", "name", "WHO", "value", "world", "name", "GREETING", "value", "hello $(WHO) $(LATE)",
                              "name", "LATE", "value", "late", "name", "BLANK", "name", "WHO", "value", "again");
    json_t *out = podenv_container (spec);
    /* env values see only what was defined before them */
    json_t *env = tv_get (out, "env");
    assert_int_equal (json_array_size (env), 4); /* WHO defined twice: one entry, the last value */
    assert_string_equal (tv_str (json_array_get (env, 0), "name"), "WHO");
    assert_string_equal (tv_str (json_array_get (env, 0), "value"), "again");
    assert_string_equal (tv_str (json_array_get (env, 1), "value"), "hello world $(LATE)");
    assert_string_equal (tv_str (json_array_get (env, 3), "value"), "");
    /* command and args see all of it */
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "command"), 0)), "/bin/sh");
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "args"), 0)),
                         "echo hello world $(LATE) late $(GREETING)");
    assert_string_equal (json_string_value (json_array_get (tv_get (out, "args"), 1)), "$(NOPE)");
    json_decref (out);
    json_decref (spec);
    /* absent lists stay absent */
    spec = json_pack ("{s:s}", "name", "c");
    out = podenv_container (spec);
    assert_int_equal (json_object_size (out), 0);
    json_decref (out);
    json_decref (spec);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (expand_rules), cmocka_unit_test (container_env_order)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
